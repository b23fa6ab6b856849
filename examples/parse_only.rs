//! The floor for `meshctl validate`: read, split and parse every document of
//! the inputs with the validator's own splitter and YAML decoder, on every
//! core, and check nothing. `bench/validate.sh` runs it beside `validate`.
//!
//! Usage: `cargo run --release --example parse_only -- PATH...`

use rayon::prelude::*;

// The same allocator as the meshctl binary, so the floor is comparable.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use meshctl::input::discover;
use meshctl::yaml::decode;
use meshctl::yaml::DocumentSplitter;

fn parse_batch(batch: Vec<(usize, String)>) -> (usize, usize) {
    batch
        .into_par_iter()
        .map(|(line, text)| match decode(&text, line, true) {
            Ok(v) => (v.len(), 0),
            Err(_) => (0, 1),
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    let files = discover(&paths).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2)
    });
    let (docs, errors) = files
        .par_iter()
        .map(|f| {
            let mut splitter = DocumentSplitter::new(f.open().expect("open input"));
            let mut batch = Vec::new();
            let (mut docs, mut errors) = (0usize, 0usize);
            while let Some(doc) = splitter.next_document() {
                match doc {
                    Ok(doc) => match doc.text {
                        Ok(text) => batch.push((doc.line, text)),
                        Err(_) => errors += 1,
                    },
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
                if batch.len() >= 256 {
                    let (d, e) = parse_batch(std::mem::take(&mut batch));
                    docs += d;
                    errors += e;
                }
            }
            let (d, e) = parse_batch(batch);
            (docs + d, errors + e)
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    println!("parsed {docs} documents in {} files ({errors} errors)", files.len());
}
