//! Splitting a YAML stream into documents on lines that start with `---`,
//! streaming, with the line each document starts at. Binary data, invalid
//! UTF-8 and oversized documents stop the file or the document, never the
//! run.

use std::io::BufRead;

/// The largest document meshctl parses. The API server takes at most 3 MiB
/// per request (and etcd 1.5 MiB per object), so a larger document could
/// never be applied; refusing it bounds time and memory on hostile input.
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024 * 1024;

/// One document of a stream, before parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDocument {
    /// 1-based index among the file's non-empty documents.
    pub index: usize,
    /// 1-based line of the document's first line (its `---` if any).
    pub line: usize,
    /// The text, or why it was not kept.
    pub text: Result<String, String>,
}

/// What stops reading a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    /// 1-based line where it was found.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Splits a stream into documents on lines that start with `---` (followed
/// by nothing, a space or a tab), as kubectl and kubeconform do. Documents
/// holding only blank lines, comments and markers are dropped.
pub struct DocumentSplitter<R> {
    reader: R,
    line_no: usize,
    next_index: usize,
    pending: Option<(usize, String)>,
    done: bool,
    buf: Vec<u8>,
}

impl<R: BufRead> DocumentSplitter<R> {
    /// Splits `reader`.
    pub fn new(reader: R) -> Self {
        DocumentSplitter { reader, line_no: 0, next_index: 1, pending: None, done: false, buf: Vec::new() }
    }

    /// The next document, or the problem that stops the file (after which
    /// the iterator ends).
    pub fn next_document(&mut self) -> Option<Result<RawDocument, FileProblem>> {
        if self.done {
            return None;
        }
        let (mut start, mut text) = self.pending.take().unwrap_or((self.line_no + 1, String::new()));
        let mut oversized = false;
        loop {
            self.buf.clear();
            let read = match read_line_bounded(&mut self.reader, &mut self.buf, MAX_DOCUMENT_BYTES + 1) {
                Ok(n) => n,
                Err(e) => {
                    self.done = true;
                    return Some(Err(FileProblem { line: self.line_no + 1, message: format!("read failed: {e}") }));
                }
            };
            if read == 0 {
                self.done = true;
                return finish(&mut self.next_index, start, text, oversized);
            }
            self.line_no += 1;
            if let Some(offset) = self.buf.iter().position(|&b| b == 0) {
                self.done = true;
                return Some(Err(FileProblem {
                    line: self.line_no,
                    message: format!(
                        "binary data (a NUL byte in line {}, column {}): expected YAML or JSON text",
                        self.line_no,
                        offset + 1
                    ),
                }));
            }
            if self.buf.len() > MAX_DOCUMENT_BYTES {
                // One line longer than a whole document may be: only its
                // first bytes were kept, so the document is oversized.
                oversized = true;
                text = String::new();
                continue;
            }
            let line = match std::str::from_utf8(&self.buf) {
                Ok(s) => s,
                Err(e) => {
                    self.done = true;
                    return Some(Err(FileProblem {
                        line: self.line_no,
                        message: format!("invalid UTF-8 in line {} at byte {}", self.line_no, e.valid_up_to() + 1),
                    }));
                }
            };
            if is_separator(line) {
                let doc = finish(&mut self.next_index, start, std::mem::take(&mut text), oversized);
                oversized = false;
                start = self.line_no;
                text.push_str(line);
                if let Some(doc) = doc {
                    self.pending = Some((start, text));
                    return Some(doc);
                }
                continue;
            }
            if oversized {
                continue;
            }
            if text.len() + line.len() > MAX_DOCUMENT_BYTES {
                oversized = true;
                text = String::new();
                continue;
            }
            text.push_str(line);
        }
    }
}

/// Reads one line (through its `\n`) into `buf`, keeping at most `max`
/// bytes of it and discarding the rest of an overlong line, so a stream
/// with no line breaks (`/dev/zero`, a binary blob) cannot grow memory. It
/// returns early at a NUL byte (binary data, reported by the caller).
/// Returns how many bytes were consumed.
fn read_line_bounded<R: BufRead>(reader: &mut R, buf: &mut Vec<u8>, max: usize) -> std::io::Result<usize> {
    let mut consumed = 0;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(consumed);
        }
        let newline = chunk.iter().position(|&b| b == b'\n');
        // Only this line's bytes: scanning the whole buffer for every line
        // would make reading a large in-memory input quadratic.
        let line_end = newline.map_or(chunk.len(), |n| n + 1);
        let nul = chunk[..line_end].iter().position(|&b| b == 0);
        let end = nul.map_or(line_end, |z| z + 1);
        let room = max.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..end.min(room)]);
        let done = newline.is_some() || nul.is_some();
        reader.consume(end);
        consumed += end;
        if done {
            return Ok(consumed);
        }
    }
}

/// Closes a document: the oversized marker, nothing for a blank one, or
/// the text with the next index.
fn finish(
    next_index: &mut usize,
    start: usize,
    text: String,
    oversized: bool,
) -> Option<Result<RawDocument, FileProblem>> {
    if oversized {
        let index = *next_index;
        *next_index += 1;
        let message = format!(
            "document is larger than {} MiB (the API server accepts at most 3 MiB per object): not parsed",
            MAX_DOCUMENT_BYTES / (1024 * 1024)
        );
        return Some(Ok(RawDocument { index, line: start, text: Err(message) }));
    }
    if is_blank(&text) {
        return None;
    }
    let index = *next_index;
    *next_index += 1;
    Some(Ok(RawDocument { index, line: start, text: Ok(text) }))
}

impl<R: BufRead> Iterator for DocumentSplitter<R> {
    type Item = Result<RawDocument, FileProblem>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_document()
    }
}

fn is_separator(line: &str) -> bool {
    let rest = match line.strip_prefix("---") {
        Some(r) => r,
        None => return false,
    };
    rest.is_empty() || rest.starts_with([' ', '\t', '\n', '\r'])
}

/// Only whitespace, comments, `---` and `...` markers.
fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty()
            || t.starts_with('#')
            || t == "---"
            || t == "..."
            || (t.starts_with("---") && t[3..].trim_start().starts_with('#'))
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    fn split(text: &[u8]) -> Vec<Result<RawDocument, FileProblem>> {
        DocumentSplitter::new(text).collect()
    }

    #[test]
    fn splits_on_separator_lines_with_start_lines() {
        let docs = split(
            b"# Source: a.yaml\n---\na: 1\n---\n\n# only comment\n--- # marker comment\nb: 2\n---x: not a separator\n",
        );
        let docs: Vec<RawDocument> = docs.into_iter().map(Result::unwrap).collect();
        assert_eq!(docs.len(), 2, "{docs:?}");
        assert_eq!((docs[0].index, docs[0].line), (1, 2));
        assert_eq!(docs[0].text.as_deref().unwrap(), "---\na: 1\n");
        assert_eq!((docs[1].index, docs[1].line), (2, 7));
        assert!(docs[1].text.as_deref().unwrap().contains("---x: not a separator"));
    }

    #[test]
    fn binary_and_invalid_utf8_stop_the_file() {
        let docs = split(b"a: 1\n---\nb: \x00\x01\n");
        assert_eq!(docs.len(), 2);
        assert!(docs[1].as_ref().unwrap_err().message.contains("NUL byte in line 3"));
        let docs = split(b"a: 1\nb: \xff\xfe\n");
        assert_eq!(docs.len(), 1);
        assert!(docs[0].as_ref().unwrap_err().message.contains("invalid UTF-8 in line 2"));
    }

    #[test]
    fn a_stream_of_nul_bytes_without_line_breaks_stops_at_once() {
        // What /dev/zero gives: no newline ever. Reading must stop at the
        // first NUL, not buffer the stream.
        let zeros = std::io::BufReader::new(std::io::repeat(0).take(1 << 30));
        let docs: Vec<_> = DocumentSplitter::new(zeros).collect();
        assert_eq!(docs.len(), 1);
        assert!(docs[0].as_ref().unwrap_err().message.contains("binary data"), "{docs:?}");
    }

    #[test]
    fn an_endless_line_is_kept_bounded_and_reported_oversized() {
        let long = std::io::BufReader::new(std::io::repeat(b'x').take(MAX_DOCUMENT_BYTES as u64 * 3));
        let docs: Vec<_> = DocumentSplitter::new(long.chain(&b"\n---\nb: 2\n"[..])).collect();
        assert_eq!(docs.len(), 2, "{docs:?}");
        assert!(docs[0].as_ref().unwrap().text.as_ref().unwrap_err().contains("larger than 8 MiB"));
        assert_eq!(docs[1].as_ref().unwrap().text.as_deref().unwrap(), "---\nb: 2\n");
    }

    #[test]
    fn oversized_documents_are_refused_but_the_next_is_read() {
        let mut text = String::from("a: |\n");
        while text.len() <= MAX_DOCUMENT_BYTES {
            text.push_str(
                "  xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
            );
        }
        text.push_str("---\nb: 2\n");
        let docs: Vec<RawDocument> = split(text.as_bytes()).into_iter().map(Result::unwrap).collect();
        assert_eq!(docs.len(), 2);
        assert!(docs[0].text.as_ref().unwrap_err().contains("larger than 8 MiB"));
        assert_eq!(docs[1].text.as_deref().unwrap(), "---\nb: 2\n");
    }
}
