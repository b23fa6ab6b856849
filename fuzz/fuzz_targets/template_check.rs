//! Fuzzes the chart-template hardening: a random template that the engine
//! accepts, rendered with a hostile value and with a tame one, must yield
//! the same document structure — a value can never add a key, a document
//! or a kind, whatever Tera construct the template uses. Templates whose
//! control flow reads values are skipped (an `if` on a value may rightly
//! change the structure); what is checked is everything a value can do
//! through what is printed.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run template_check` (fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshctl::assets::Assets;
use meshctl::render::{Engine, Policy};
use serde_json::{json, Value};

const DIR: &str = "templates/helm/testmesh/templates";
const HOSTILE: &str = "x\"\nextra: 1\n---\nkind: Secret\nmetadata: {name: leaked}\n\u{2028}# ";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (template, value) = text.split_once('\u{1}').unwrap_or((text, HOSTILE));
    if outside_expressions(template).contains("values") {
        return;
    }
    let assets = Assets::from_files([(format!("{DIR}/t.yaml"), template.as_bytes().to_vec())]);
    let Ok(engine) = Engine::load(&assets, DIR, Policy::EncodedExpressions) else { return };
    let render = |v: &str| {
        let mut context = tera::Context::new();
        context.insert("values", &json!({"x": v, "list": [v], "map": {"k": v}}));
        engine.render("t.yaml", &context).ok()
    };
    let (Some(hostile), Some(tame)) = (render(value), render("tame")) else { return };
    let parse = |t: &str| meshctl::yaml::parse_all("t.yaml", t).ok();
    let Some(tame) = parse(&tame) else { return };
    // A value must not make the output unparseable either.
    let hostile = parse(&hostile).unwrap_or_else(|| panic!("a value broke the YAML of:\n{template}"));
    assert_eq!(shape(&hostile), shape(&tame), "a value changed the structure of:\n{template}");
});

/// The template text outside `{{ ... }}` expressions.
fn outside_expressions(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        rest = rest[start..].find("}}").map_or("", |end| &rest[start + end + 2..]);
    }
    out.push_str(rest);
    out
}

/// Documents, maps (with their key counts), lists and scalars, without the
/// scalars' values or the keys' names (a printed value may be a key).
fn shape(docs: &[Value]) -> Vec<String> {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                out.push_str(&format!("{{{}:", m.len()));
                m.values().for_each(|c| walk(c, out));
                out.push('}');
            }
            Value::Array(a) => {
                out.push_str(&format!("[{}:", a.len()));
                a.iter().for_each(|c| walk(c, out));
                out.push(']');
            }
            _ => out.push('.'),
        }
    }
    docs.iter()
        .map(|d| {
            let mut s = String::new();
            walk(d, &mut s);
            s
        })
        .collect()
}
