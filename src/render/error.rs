//! The render stage's errors.

/// A template that failed, or rendered something that is not a manifest.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Tera could not parse or render a template.
    #[error("{template}{}: template error: {message}", line_suffix(.line))]
    Template {
        /// The template file.
        template: String,
        /// 1-based line, when it could be found.
        line: Option<usize>,
        /// Tera's message.
        message: String,
    },
    /// A template prints a value without encoding it.
    #[error("{template}{}: unsafe template: {message}", line_suffix(.line))]
    Unsafe {
        /// The template file.
        template: String,
        /// 1-based line of the expression.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A template's output is not YAML (a bug in the template).
    #[error("{template}: rendered output is not valid YAML: {message}\nrendered text:\n{text}")]
    NotYaml {
        /// The template file.
        template: String,
        /// The parser's message, with the line in the rendered text.
        message: String,
        /// The rendered text with line numbers.
        text: String,
    },
    /// A rendered document is not a Kubernetes object.
    #[error("{template}: rendered document {document} is not a valid manifest: {message}")]
    Output {
        /// The template file.
        template: String,
        /// 1-based index of the document in the template's output.
        document: usize,
        /// What is wrong.
        message: String,
    },
    /// Two templates rendered the same object.
    #[error("object {kind} `{name}` is rendered twice: by `{first}` and by `{second}`")]
    Duplicate {
        /// Its kind.
        kind: String,
        /// `namespace/name` or `name`.
        name: String,
        /// The first template.
        first: String,
        /// The second template.
        second: String,
    },
}

fn line_suffix(line: &Option<usize>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}
