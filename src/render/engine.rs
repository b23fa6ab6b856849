//! The hardened Tera engine. Templates are parsed once and checked before
//! anything renders:
//!
//! * in chart templates every `{{ ... }}` must end with the `json` filter,
//!   which writes the value as a quoted JSON scalar or flow collection — valid
//!   YAML that no value can escape, so a value can never add a key, a
//!   document or a kind;
//! * Terraform templates may not print values at all (`{{ ... }}` is
//!   rejected): values reach Terraform only through `terraform.tfvars.json`,
//!   because HCL evaluates `${...}` inside strings;
//! * `get_env` is replaced by a function that fails, and the engine is built
//!   without Tera's `builtins` feature, so there is no `now()` or
//!   `get_random()`: output depends on the values alone.

use std::collections::HashMap;

use serde_json::Value;
use tera::ast::{Expr, ExprVal, Node};
use tera::{Context, Tera};

use crate::assets::Assets;
use crate::error::Result;
use crate::render::RenderError;
use crate::yaml::encode_json;

/// The filter every chart expression must end with.
pub const ENCODING_FILTER: &str = "json";

/// What a template set may print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// YAML manifests: every expression ends with [`ENCODING_FILTER`].
    EncodedExpressions,
    /// HCL: no expressions, only control flow.
    NoExpressions,
}

/// A set of templates loaded from one asset directory and checked against a
/// [`Policy`].
pub struct Engine {
    tera: Tera,
    /// Tera name -> (project path, source text).
    sources: HashMap<String, (String, String)>,
}

impl Engine {
    /// Loads every file under `dir` (Tera name = path relative to `dir`),
    /// parses and checks it.
    pub fn load(assets: &Assets, dir: &str, policy: Policy) -> Result<Engine> {
        let mut tera = Tera::default();
        tera.autoescape_on(vec![]);
        register(&mut tera);
        let mut sources = HashMap::new();
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        for (path, _) in assets.list(dir) {
            let name = path.strip_prefix(&prefix).unwrap_or(path).to_owned();
            let text = assets.text(path)?.to_owned();
            let shown = assets.display_path(path);
            tera.add_raw_template(&name, &text).map_err(|e| RenderError::Template {
                template: shown.clone(),
                line: parse_error_line(&e),
                message: error_chain(&e),
            })?;
            sources.insert(name, (shown, text));
        }
        let engine = Engine { tera, sources };
        engine.check(policy)?;
        Ok(engine)
    }

    /// Template names in sorted order, without partials (names starting
    /// with `_`).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.sources.keys().filter(|n| !n.rsplit('/').next().unwrap_or(n).starts_with('_')).cloned().collect();
        names.sort();
        names
    }

    /// The path of a template as shown in messages.
    pub fn shown(&self, name: &str) -> String {
        self.sources.get(name).map(|(s, _)| s.clone()).unwrap_or_else(|| name.to_owned())
    }

    /// Renders one template.
    pub fn render(&self, name: &str, context: &Context) -> Result<String, RenderError> {
        self.tera.render(name, context).map_err(|e| {
            let message = error_chain(&e);
            let (shown, source) = self.sources.get(name).cloned().unwrap_or_default();
            RenderError::Template { template: shown, line: runtime_error_line(&message, &source), message }
        })
    }

    fn check(&self, policy: Policy) -> Result<(), RenderError> {
        let mut names: Vec<&String> = self.sources.keys().collect();
        names.sort();
        for name in names {
            let (shown, source) = &self.sources[name];
            let template = self.tera.get_template(name).expect("added above");
            let mut blocks = Vec::new();
            collect_variable_blocks(&template.ast, &mut blocks);
            for macro_def in template.macros.values() {
                collect_variable_blocks(&macro_def.body, &mut blocks);
            }
            if policy == Policy::EncodedExpressions {
                let forbidden = forbidden_construct(&template.ast)
                    .or_else(|| (!template.macros.is_empty()).then_some(Forbidden::Macro))
                    .or_else(|| (!template.imported_macro_files.is_empty()).then_some(Forbidden::Macro));
                if let Some(construct) = forbidden {
                    return Err(RenderError::Unsafe {
                        template: shown.clone(),
                        line: construct.line_in(source),
                        message: construct.message().to_owned(),
                    });
                }
            }
            let lines = expression_lines(source);
            for (i, expr) in blocks.iter().enumerate() {
                let problem = match policy {
                    Policy::NoExpressions => Some("Terraform templates may not print values: pass them through terraform.tfvars.json".to_owned()),
                    Policy::EncodedExpressions => match expr.filters.last() {
                        Some(f) if f.name == ENCODING_FILTER => None,
                        _ => Some(format!(
                            "expression `{}` must end with the `{ENCODING_FILTER}` filter, so that no value can change the document's structure",
                            describe(expr)
                        )),
                    },
                };
                if let Some(message) = problem {
                    return Err(RenderError::Unsafe { template: shown.clone(), line: lines.get(i).copied(), message });
                }
            }
        }
        Ok(())
    }
}

fn register(tera: &mut Tera) {
    tera.register_filter(ENCODING_FILTER, json_filter);
    tera.register_filter("b64enc", b64enc_filter);
    tera.register_function("image_ref", image_ref);
    tera.register_function("get_env", |_: &HashMap<String, Value>| -> tera::Result<Value> {
        Err(tera::Error::msg("`get_env` is disabled: templates read only values, never the environment"))
    });
}

fn json_filter(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(encode_json(value)))
}

fn b64enc_filter(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    use base64::Engine as _;
    let s = value.as_str().ok_or_else(|| tera::Error::msg("`b64enc` takes a string"))?;
    Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(s)))
}

/// `image_ref(image=..., registry=..., tag=...)`: `registry/repository@digest`
/// when a digest is set, else `registry/repository:tag` (the image's tag, or
/// `tag`, the chart's appVersion). `image.registry` overrides `registry`.
fn image_ref(args: &HashMap<String, Value>) -> tera::Result<Value> {
    let image = args
        .get("image")
        .and_then(Value::as_object)
        .ok_or_else(|| tera::Error::msg("`image_ref` needs `image`, a map"))?;
    let field = |k: &str| image.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let registry = field("registry").or_else(|| args.get("registry").and_then(Value::as_str)).unwrap_or_default();
    let repository = field("repository").ok_or_else(|| tera::Error::msg("`image_ref`: image has no `repository`"))?;
    let base = if registry.is_empty() {
        repository.to_owned()
    } else {
        format!("{}/{repository}", registry.trim_end_matches('/'))
    };
    if let Some(digest) = field("digest") {
        return Ok(Value::String(format!("{base}@{digest}")));
    }
    let tag = field("tag")
        .or_else(|| args.get("tag").and_then(Value::as_str))
        .ok_or_else(|| tera::Error::msg("`image_ref`: image has neither `digest` nor `tag`"))?;
    Ok(Value::String(format!("{base}:{tag}")))
}

fn collect_variable_blocks<'a>(nodes: &'a [Node], out: &mut Vec<&'a Expr>) {
    for node in nodes {
        match node {
            Node::VariableBlock(_, expr) => out.push(expr),
            Node::MacroDefinition(_, def, _) => collect_variable_blocks(&def.body, out),
            Node::FilterSection(_, section, _) => collect_variable_blocks(&section.body, out),
            Node::Block(_, block, _) => collect_variable_blocks(&block.body, out),
            Node::Forloop(_, forloop, _) => {
                collect_variable_blocks(&forloop.body, out);
                if let Some(body) = &forloop.empty_body {
                    collect_variable_blocks(body, out);
                }
            }
            Node::If(if_node, _) => {
                for (_, _, body) in &if_node.conditions {
                    collect_variable_blocks(body, out);
                }
                if let Some((_, body)) = &if_node.otherwise {
                    collect_variable_blocks(body, out);
                }
            }
            _ => {}
        }
    }
}

/// A Tera construct chart templates may not use: each can transform a
/// value after the `json` filter encoded it, or print text no expression
/// check sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forbidden {
    /// `{% filter f %}...{% endfilter %}` applies filters to already printed
    /// (encoded) text: `replace` could strip the quoting.
    FilterSection,
    /// Macros print their body where they are called.
    Macro,
    /// `{% set x = v | json %}` holds an encoded value that later filters
    /// could transform.
    EncodedSet,
}

impl Forbidden {
    fn message(self) -> &'static str {
        match self {
            Forbidden::FilterSection => "`{% filter %}` blocks are not allowed in chart templates: they transform text after the `json` filter encoded it, so a value could change the document's structure",
            Forbidden::Macro => "macros are not allowed in chart templates: use `{% include %}` of a checked partial (`_name.yaml`) instead",
            Forbidden::EncodedSet => "`{% set %}` may not apply the `json` filter: encode a value only where it is printed, so nothing can transform it after encoding",
        }
    }

    /// The 1-based line of the construct's first occurrence in `source`.
    fn line_in(self, source: &str) -> Option<usize> {
        let found = source.match_indices("{%").find(|(at, _)| {
            let tag = source[at + 2..].trim_start_matches('-').trim_start();
            match self {
                Forbidden::FilterSection => tag.starts_with("filter"),
                Forbidden::Macro => tag.starts_with("macro") || tag.starts_with("import"),
                Forbidden::EncodedSet => {
                    tag.starts_with("set") && tag.split("%}").next().is_some_and(|t| t.contains(ENCODING_FILTER))
                }
            }
        });
        found.map(|(at, _)| source[..at].matches('\n').count() + 1)
    }
}

fn forbidden_construct(nodes: &[Node]) -> Option<Forbidden> {
    nodes.iter().find_map(|node| match node {
        Node::FilterSection(..) => Some(Forbidden::FilterSection),
        Node::MacroDefinition(..) | Node::ImportMacro(..) => Some(Forbidden::Macro),
        Node::Set(_, set) if uses_filter(&set.value, ENCODING_FILTER) => Some(Forbidden::EncodedSet),
        Node::Block(_, block, _) => forbidden_construct(&block.body),
        Node::Forloop(_, forloop, _) => {
            forbidden_construct(&forloop.body).or_else(|| forloop.empty_body.as_deref().and_then(forbidden_construct))
        }
        Node::If(if_node, _) => if_node
            .conditions
            .iter()
            .find_map(|(_, _, body)| forbidden_construct(body))
            .or_else(|| if_node.otherwise.as_ref().and_then(|(_, body)| forbidden_construct(body))),
        _ => None,
    })
}

/// Whether `filter` is applied anywhere in `expr`, including inside
/// arrays, concatenations, arguments and conditions.
fn uses_filter(expr: &Expr, filter: &str) -> bool {
    if expr.filters.iter().any(|f| f.name == filter || f.args.values().any(|a| uses_filter(a, filter))) {
        return true;
    }
    match &expr.val {
        ExprVal::Array(items) => items.iter().any(|e| uses_filter(e, filter)),
        ExprVal::FunctionCall(f) => f.args.values().any(|a| uses_filter(a, filter)),
        ExprVal::MacroCall(m) => m.args.values().any(|a| uses_filter(a, filter)),
        ExprVal::Math(m) => uses_filter(&m.lhs, filter) || uses_filter(&m.rhs, filter),
        ExprVal::Logic(l) => uses_filter(&l.lhs, filter) || uses_filter(&l.rhs, filter),
        ExprVal::In(i) => uses_filter(&i.lhs, filter) || uses_filter(&i.rhs, filter),
        ExprVal::StringConcat(c) => c
            .values
            .iter()
            .any(|v| matches!(v, ExprVal::FunctionCall(f) if f.args.values().any(|a| uses_filter(a, filter)))),
        ExprVal::Test(t) => t.args.iter().any(|a| uses_filter(a, filter)),
        _ => false,
    }
}

/// 1-based lines of each `{{` in source order, skipping comments and raw
/// sections; the n-th entry belongs to the n-th expression of the AST walk.
fn expression_lines(source: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let bytes = source.as_bytes();
    let mut i = 0;
    let mut line = 1;
    while i + 1 < bytes.len() {
        let rest = &source[i..];
        if rest.starts_with("{#") {
            let end = rest.find("#}").map_or(rest.len(), |e| e + 2);
            line += rest[..end].matches('\n').count();
            i += end;
        } else if rest.starts_with("{%") && rest[2..].trim_start_matches('-').trim_start().starts_with("raw") {
            let end = rest.find("endraw").and_then(|e| rest[e..].find("%}").map(|c| e + c + 2)).unwrap_or(rest.len());
            line += rest[..end].matches('\n').count();
            i += end;
        } else if rest.starts_with("{{") {
            lines.push(line);
            i += 2;
        } else {
            if bytes[i] == b'\n' {
                line += 1;
            }
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    lines
}

fn describe(expr: &Expr) -> String {
    let base = match &expr.val {
        ExprVal::Ident(name) => name.clone(),
        ExprVal::String(s) => format!("{s:?}"),
        ExprVal::FunctionCall(f) => format!("{}(...)", f.name),
        _ => "...".to_owned(),
    };
    let filters: String = expr.filters.iter().map(|f| format!(" | {}", f.name)).collect();
    format!("{{{{ {base}{filters} }}}}")
}

/// Tera's message and its causes on one line.
fn error_chain(e: &tera::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

/// Tera parse errors carry pest's `--> L:C` marker.
fn parse_error_line(e: &tera::Error) -> Option<usize> {
    let text = error_chain(e);
    let at = text.find("--> ")? + 4;
    text[at..].split(':').next()?.trim().parse().ok()
}

/// Tera render errors name the variable, filter or function but no line:
/// find the first line of the template that mentions it.
fn runtime_error_line(message: &str, source: &str) -> Option<usize> {
    let mut rest = message;
    while let Some(start) = rest.find('`') {
        let after = &rest[start + 1..];
        let end = after.find('`')?;
        let name = &after[..end];
        if !name.is_empty() {
            if let Some(n) = source.lines().position(|l| l.contains(name)) {
                return Some(n + 1);
            }
        }
        rest = &after[end + 1..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encode_json_escapes_yaml_line_breaks() {
        let s = encode_json(&json!("a\u{2028}b\u{85}c\nd"));
        assert_eq!(s, "\"a\\u2028b\\u0085c\\nd\"");
    }

    #[test]
    fn expression_lines_skip_comments_and_raw() {
        let src = "a: {{ x | json }}\n{# {{ not }} #}\n{% raw %}{{ raw }}{% endraw %}\nb: {{ y | json }}\n";
        assert_eq!(expression_lines(src), vec![1, 4]);
    }

    /// Loads one chart template from a scratch project root.
    fn load_chart_template(text: &str) -> Result<Engine, RenderError> {
        let dir = tempfile::tempdir().unwrap();
        let templates = dir.path().join("templates/helm/testmesh/templates");
        std::fs::create_dir_all(&templates).unwrap();
        std::fs::write(templates.join("t.yaml"), text).unwrap();
        let assets = Assets::from_dir(dir.path()).unwrap();
        match Engine::load(&assets, "templates/helm/testmesh/templates", Policy::EncodedExpressions) {
            Ok(engine) => Ok(engine),
            Err(crate::error::Error::Render(e)) => Err(e),
            Err(other) => panic!("{other}"),
        }
    }

    fn refused(text: &str, expected: &str, line: usize) {
        match load_chart_template(text) {
            Err(RenderError::Unsafe { message, line: found, .. }) => {
                assert!(message.contains(expected), "{message}");
                assert_eq!(found, Some(line), "{message}");
            }
            Err(other) => panic!("refused for another reason: {other}"),
            Ok(_) => panic!("accepted:\n{text}"),
        }
    }

    #[test]
    fn constructs_that_transform_encoded_values_are_refused() {
        // The bypass: the filter section strips the quotes `json` added, so
        // `x: "a\nb: c"` would become a second key.
        refused(
            "kind: ConfigMap\ndata:\n{% filter replace(from='\"', to='') %}  x: {{ values.x | json }}\n{% endfilter %}\n",
            "`{% filter %}` blocks are not allowed",
            3,
        );
        refused(
            "{% if true %}\n{% filter upper %}{{ values.x | json }}{% endfilter %}\n{% endif %}\n",
            "`{% filter %}`",
            2,
        );
        refused(
            "{% macro m(v) %}{{ v | json }}{% endmacro m %}\nx: {{ self::m(v=values.x) | json }}\n",
            "macros are not allowed",
            1,
        );
        refused(
            "a: 1\n{% set enc = values.x | json %}\nx: {{ enc | replace(from='\"', to='') | json }}\n",
            "`{% set %}` may not apply the `json` filter",
            2,
        );
        refused("{% for i in [1] %}\n{% set_global enc = [values.x | json] %}\n{% endfor %}\n", "`{% set %}`", 2);
    }

    #[test]
    fn plain_control_flow_and_sets_are_accepted() {
        let text = "{% set name = release.name ~ \"-x\" %}\n{% for k in [1, 2] %}\n{% if k > 1 %}a: {{ name | json }}\n{% endif %}\n{% endfor %}\n";
        assert!(load_chart_template(text).is_ok());
    }

    #[test]
    fn image_ref_prefers_digest() {
        let mut args = HashMap::new();
        args.insert("image".into(), json!({"repository": "runner", "tag": "1.0", "digest": "sha256:ab"}));
        args.insert("registry".into(), json!("reg.local/tm"));
        assert_eq!(image_ref(&args).unwrap(), json!("reg.local/tm/runner@sha256:ab"));
        args.insert("image".into(), json!({"repository": "runner"}));
        args.insert("tag".into(), json!("0.1.0"));
        assert_eq!(image_ref(&args).unwrap(), json!("reg.local/tm/runner:0.1.0"));
    }
}
