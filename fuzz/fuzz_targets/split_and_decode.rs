//! Fuzzes the document splitter and the strict decoder with arbitrary
//! bytes: neither may panic, hang or allocate without bound, whatever the
//! input. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run split_and_decode` (see
//! fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshctl::yaml::{decode, DocumentSplitter};

fuzz_target!(|data: &[u8]| {
    for doc in DocumentSplitter::new(data) {
        let Ok(doc) = doc else { break };
        if let Ok(text) = doc.text {
            for strict in [true, false] {
                let _ = decode(&text, doc.line, strict);
            }
        }
    }
});
