//! Fuzzes the manifest reader as `validate` and `apply --from` use it: the
//! bounded input reader in front of the document splitter and the strict
//! decoder. Whatever the bytes, nothing panics, a document handed on is
//! never larger than the document limit, and reading stops at the input
//! limit with an error naming the input.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run bounded_manifests` (fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshctl::input::Bounded;
use meshctl::yaml::{decode, DocumentSplitter, MAX_DOCUMENT_BYTES};

fuzz_target!(|data: &[u8]| {
    // A small input limit, so the fuzzer reaches it.
    let limit = 4096;
    let reader = Bounded::new(data, limit, "fuzz.yaml".to_owned());
    for doc in DocumentSplitter::new(reader) {
        let doc = match doc {
            Ok(doc) => doc,
            Err(problem) => {
                if data.len() as u64 > limit && problem.message.contains("input limit") {
                    assert!(problem.message.contains("fuzz.yaml"), "{}", problem.message);
                }
                break;
            }
        };
        if let Ok(text) = doc.text {
            assert!(text.len() <= MAX_DOCUMENT_BYTES);
            for strict in [true, false] {
                let _ = decode(&text, doc.line, strict);
            }
        }
    }
});
