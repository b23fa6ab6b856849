//! Terraform root modules parsed as HCL: every `var.x` used is declared,
//! every variable without a default is set in terraform.tfvars.json, every
//! key there is declared, and the outputs the Helm values need exist.
//!
//! This is a static check of the module text, not `terraform validate`: it
//! needs no providers and no network, and catches the mistakes a template
//! edit typically makes (a renamed variable, a forgotten tfvars key, a
//! dropped output).

use std::collections::{BTreeMap, BTreeSet};

use hcl::expr::{Expression, ObjectKey, Operation, TemplateExpr, Traversal, TraversalOperator};
use hcl::template::{Directive, Element, Template};
use hcl::{Block, Body, Structure};

use super::model::{Finding, ResourceReport, Severity, Status};

/// The outputs the chart's values are fed from after `terraform apply`.
pub const REQUIRED_OUTPUTS: &[&str] = &["cluster_endpoint", "database_host", "cache_host"];

/// The variable values file meshctl generates next to the module.
const TFVARS: &str = "terraform.tfvars.json";

/// The `kind` every report of this module carries.
const KIND: &str = "TerraformFile";

/// Checks one root module. `dir` names the module in reports (e.g.
/// "out/terraform"); `files` maps file name -> text for every `*.tf` file of
/// the module (and may contain "terraform.tfvars.json"). Returns one
/// `ResourceReport` per .tf file plus one for terraform.tfvars.json when
/// present, each with kind Some("TerraformFile"), name Some(<file name>),
/// file = format!("{dir}/{name}"), document 1, line 1, `api_version` None,
/// status Valid/Invalid (Invalid iff any Error finding; a file that fails
/// to parse as HCL gets status Error and one finding `hcl-syntax` whose
/// message includes hcl's line:column).
///
/// A terraform.tfvars.json that is not JSON at all also gets status Error
/// (finding `tfvars-syntax`). Entries of `files` that are neither `*.tf`
/// nor terraform.tfvars.json are ignored.
pub fn check_module(dir: &str, files: &BTreeMap<String, String>) -> Vec<ResourceReport> {
    let tf_files: Vec<TfFile<'_>> =
        files.iter().filter(|(name, _)| name.ends_with(".tf")).map(|(name, text)| TfFile::parse(name, text)).collect();
    let module = Module::new(&tf_files);
    let mut findings: BTreeMap<&str, Vec<Finding>> = BTreeMap::new();

    for (name, finding) in module.duplicates() {
        findings.entry(name).or_default().push(finding);
    }

    // With a file that did not parse, its declarations and references are
    // unknown: a variable "undeclared" here may be declared there. Only the
    // checks that stay true whatever the broken file holds are run then.
    if module.complete {
        for (name, finding) in module.undeclared().chain(module.unused()) {
            findings.entry(name).or_default().push(finding);
        }
        let output_file =
            tf_files.iter().map(|f| f.name).find(|&n| n == "outputs.tf").or(tf_files.first().map(|f| f.name));
        if let Some(output_file) = output_file {
            findings.entry(output_file).or_default().extend(module.missing_outputs());
        }
    }

    let mut reports: Vec<ResourceReport> = tf_files
        .iter()
        .map(|file| {
            let (parsed, mut found) = match &file.facts {
                Ok(_) => (true, findings.remove(file.name).unwrap_or_default()),
                Err(syntax) => (false, vec![syntax.clone()]),
            };
            found.extend(file.template_errors());
            report(dir, file.name, parsed, found)
        })
        .collect();

    if let Some(text) = files.get(TFVARS) {
        let (parsed, found) = module.check_tfvars(text);
        reports.push(report(dir, TFVARS, parsed, found));
    }
    reports
}

/// One report; `parsed` is false when the file could not be parsed at all.
fn report(dir: &str, name: &str, parsed: bool, mut findings: Vec<Finding>) -> ResourceReport {
    // Stable sort: errors first, each group in the order found.
    findings.sort_by_key(|f| f.severity);
    let status = if !parsed {
        Status::Error
    } else if findings.iter().any(|f| f.severity == Severity::Error) {
        Status::Invalid
    } else {
        Status::Valid
    };
    ResourceReport {
        file: format!("{dir}/{name}"),
        document: 1,
        item: None,
        line: 1,
        api_version: None,
        kind: Some(KIND.to_owned()),
        namespace: None,
        name: Some(name.to_owned()),
        status,
        findings,
    }
}

/// A `variable "NAME"` block.
struct VariableDecl {
    name: String,
    has_default: bool,
}

/// What one parsed `.tf` file declares and references.
#[derive(Default)]
struct Facts {
    /// Top-level `variable` blocks, in file order (duplicates kept).
    variables: Vec<VariableDecl>,
    /// Names of top-level `output` blocks.
    outputs: BTreeSet<String>,
    /// Variables referenced as `var.NAME`; a variable's references to itself
    /// (in its own `validation` blocks) are left out, they are not a use.
    references: BTreeSet<String>,
    /// Templates hcl could parse as a string but not expand (should not
    /// happen; reported rather than silently skipped).
    bad_templates: Vec<String>,
}

/// One `.tf` file: its facts, or the `hcl-syntax` finding when it does not
/// parse.
struct TfFile<'a> {
    name: &'a str,
    facts: Result<Facts, Finding>,
}

impl<'a> TfFile<'a> {
    fn parse(name: &'a str, text: &str) -> Self {
        let facts = match hcl::parse(text) {
            Ok(body) => Ok(Facts::of(&body)),
            Err(err) => Err(Finding::error("hcl-syntax", None, syntax_message(&err))),
        };
        TfFile { name, facts }
    }

    fn template_errors(&self) -> Vec<Finding> {
        let Ok(facts) = &self.facts else { return Vec::new() };
        facts
            .bad_templates
            .iter()
            .map(|err| Finding::error("hcl-syntax", None, format!("a template string could not be expanded: {err}")))
            .collect()
    }
}

/// `line:column: message` for parse errors; hcl's own multi-line rendering
/// (with a caret under the source line) does not fit a one-line finding.
fn syntax_message(err: &hcl::Error) -> String {
    match err {
        hcl::Error::Parse(parse) => {
            let location = parse.location();
            format!("invalid HCL at {}:{}: {}", location.line(), location.column(), parse.message())
        }
        other => format!("invalid HCL: {other}"),
    }
}

impl Facts {
    fn of(body: &Body) -> Self {
        let mut facts = Facts::default();
        let mut refs = VarRefs::default();
        for structure in body {
            match structure {
                Structure::Attribute(attr) => refs.expr(&attr.expr),
                Structure::Block(block) => {
                    // Declarations only count at the top level: providers
                    // have nested blocks called `variable` too.
                    match (block.identifier(), single_label(block)) {
                        ("variable", Some(name)) => {
                            let mut own = VarRefs::default();
                            own.body(&block.body);
                            own.names.remove(name);
                            refs.absorb(own);
                            let has_default = block.body.attributes().any(|a| a.key.as_str() == "default");
                            facts.variables.push(VariableDecl { name: name.to_owned(), has_default });
                        }
                        ("output", Some(name)) => {
                            facts.outputs.insert(name.to_owned());
                            refs.body(&block.body);
                        }
                        _ => refs.body(&block.body),
                    }
                }
            }
        }
        facts.references = refs.names;
        facts.bad_templates = refs.bad_templates;
        facts
    }
}

/// The label of a block with exactly one (`variable "x"`, `output "y"`).
fn single_label(block: &Block) -> Option<&str> {
    match block.labels() {
        [label] => Some(label.as_str()),
        _ => None,
    }
}

/// Collects the names of `var.NAME` references in bodies and expressions.
#[derive(Default)]
struct VarRefs {
    names: BTreeSet<String>,
    bad_templates: Vec<String>,
}

impl VarRefs {
    fn absorb(&mut self, other: VarRefs) {
        self.names.extend(other.names);
        self.bad_templates.extend(other.bad_templates);
    }

    fn body(&mut self, body: &Body) {
        for structure in body {
            match structure {
                Structure::Attribute(attr) => self.expr(&attr.expr),
                Structure::Block(block) => self.body(&block.body),
            }
        }
    }

    fn expr(&mut self, expr: &Expression) {
        match expr {
            Expression::Array(items) => items.iter().for_each(|item| self.expr(item)),
            Expression::Object(object) => {
                for (key, value) in object {
                    // Keys may be computed: `"kubernetes.io/cluster/${var.x}" = ...`.
                    if let ObjectKey::Expression(key) = key {
                        self.expr(key);
                    }
                    self.expr(value);
                }
            }
            Expression::TemplateExpr(template) => self.template_expr(template),
            Expression::Traversal(traversal) => self.traversal(traversal),
            Expression::FuncCall(call) => call.args.iter().for_each(|arg| self.expr(arg)),
            Expression::Parenthesis(inner) => self.expr(inner),
            Expression::Conditional(cond) => {
                self.expr(&cond.cond_expr);
                self.expr(&cond.true_expr);
                self.expr(&cond.false_expr);
            }
            Expression::Operation(op) => match op.as_ref() {
                Operation::Unary(unary) => self.expr(&unary.expr),
                Operation::Binary(binary) => {
                    self.expr(&binary.lhs_expr);
                    self.expr(&binary.rhs_expr);
                }
            },
            Expression::ForExpr(for_expr) => {
                self.expr(&for_expr.collection_expr);
                if let Some(key) = &for_expr.key_expr {
                    self.expr(key);
                }
                self.expr(&for_expr.value_expr);
                if let Some(cond) = &for_expr.cond_expr {
                    self.expr(cond);
                }
            }
            // Literals, and bare variables (`each`, `count`, for-expression
            // iterators), which are not `var.NAME` references.
            _ => {}
        }
    }

    fn traversal(&mut self, traversal: &Traversal) {
        match (&traversal.expr, traversal.operators.first()) {
            (Expression::Variable(root), Some(TraversalOperator::GetAttr(name))) if root.as_str() == "var" => {
                self.names.insert(name.as_str().to_owned());
            }
            (root, _) => self.expr(root),
        }
        // Index keys are expressions too: `local.sizes[var.tier]`.
        for op in &traversal.operators {
            if let TraversalOperator::Index(index) = op {
                self.expr(index);
            }
        }
    }

    /// hcl-rs keeps quoted strings with interpolations and heredocs as raw
    /// template text; expanding them is what exposes the `${var.x}` and
    /// `%{ if var.y }` inside.
    fn template_expr(&mut self, template: &TemplateExpr) {
        match Template::from_expr(template) {
            Ok(template) => self.template(&template),
            Err(err) => self.bad_templates.push(err.to_string()),
        }
    }

    fn template(&mut self, template: &Template) {
        for element in template.elements() {
            match element {
                Element::Literal(_) => {}
                Element::Interpolation(interpolation) => self.expr(&interpolation.expr),
                Element::Directive(directive) => match directive.as_ref() {
                    Directive::If(if_directive) => {
                        self.expr(&if_directive.cond_expr);
                        self.template(&if_directive.true_template);
                        if let Some(false_template) = &if_directive.false_template {
                            self.template(false_template);
                        }
                    }
                    Directive::For(for_directive) => {
                        self.expr(&for_directive.collection_expr);
                        self.template(&for_directive.template);
                    }
                },
            }
        }
    }
}

/// The facts of all files of a module, merged.
struct Module<'a> {
    /// Every file parsed.
    complete: bool,
    /// Each variable's first declaration: file name and whether it has a default.
    declared: BTreeMap<&'a str, (&'a str, bool)>,
    /// Later declarations of an already declared variable: (file, name).
    redeclared: Vec<(&'a str, &'a str)>,
    /// Variables referenced anywhere, per file.
    references: Vec<(&'a str, &'a BTreeSet<String>)>,
    /// Every output declared.
    outputs: BTreeSet<&'a str>,
}

impl<'a> Module<'a> {
    fn new(files: &'a [TfFile<'a>]) -> Self {
        let mut module = Module {
            complete: true,
            declared: BTreeMap::new(),
            redeclared: Vec::new(),
            references: Vec::new(),
            outputs: BTreeSet::new(),
        };
        for file in files {
            let Ok(facts) = &file.facts else {
                module.complete = false;
                continue;
            };
            for var in &facts.variables {
                if module.declared.contains_key(var.name.as_str()) {
                    module.redeclared.push((file.name, &var.name));
                } else {
                    module.declared.insert(&var.name, (file.name, var.has_default));
                }
            }
            module.references.push((file.name, &facts.references));
            module.outputs.extend(facts.outputs.iter().map(String::as_str));
        }
        module
    }

    /// `duplicate-variable`, on the file of each later declaration.
    fn duplicates(&self) -> impl Iterator<Item = (&'a str, Finding)> + '_ {
        self.redeclared.iter().map(|&(file, name)| {
            let first = self.declared.get(name).map_or("", |&(first, _)| first);
            let msg = format!(
                "variable \"{name}\" is declared more than once (first in {first}); Terraform rejects \
                 duplicate variables, remove one of the declarations"
            );
            (file, Finding::error("duplicate-variable", None, msg))
        })
    }

    /// `undeclared-variable`, once per variable and file using it.
    fn undeclared(&self) -> impl Iterator<Item = (&'a str, Finding)> + '_ {
        self.references.iter().flat_map(move |&(file, names)| {
            names.iter().filter(|name| !self.declared.contains_key(name.as_str())).map(move |name| {
                let msg = format!(
                    "var.{name} is used but no variable \"{name}\" is declared in the module; \
                     declare it with a `variable \"{name}\" {{ ... }}` block (e.g. in variables.tf)"
                );
                (file, Finding::error("undeclared-variable", None, msg))
            })
        })
    }

    /// `unused-variable`, on the file declaring it.
    fn unused(&self) -> impl Iterator<Item = (&'a str, Finding)> + '_ {
        let used: BTreeSet<&str> =
            self.references.iter().flat_map(|(_, names)| names.iter().map(String::as_str)).collect();
        self.declared.iter().filter(move |(name, _)| !used.contains(**name)).map(|(name, &(file, _))| {
            let msg = format!("variable \"{name}\" is declared but var.{name} is never used");
            (file, Finding::warning("unused-variable", None, msg))
        })
    }

    /// `missing-output`, for each required output nobody declares.
    fn missing_outputs(&self) -> impl Iterator<Item = Finding> + '_ {
        REQUIRED_OUTPUTS.iter().filter(|name| !self.outputs.contains(**name)).map(|name| {
            let msg = format!(
                "output \"{name}\" is not declared; the Helm values are filled from it after `terraform apply`"
            );
            Finding::error("missing-output", None, msg)
        })
    }

    /// Findings for terraform.tfvars.json and whether it parsed as JSON.
    fn check_tfvars(&self, text: &str) -> (bool, Vec<Finding>) {
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(err) => {
                let msg = format!("{TFVARS} is not valid JSON: {err}");
                return (false, vec![Finding::error("tfvars-syntax", None, msg)]);
            }
        };
        let Some(values) = value.as_object() else {
            let msg = format!("{TFVARS} must be a JSON object mapping variable names to values");
            return (true, vec![Finding::error("tfvars-syntax", None, msg)]);
        };

        let mut findings = Vec::new();
        // An unparsed .tf file may declare the key; see check_module.
        if self.complete {
            for key in values.keys().filter(|key| !self.declared.contains_key(key.as_str())) {
                let msg = format!("\"{key}\" is set but the module declares no variable \"{key}\"");
                findings.push(Finding::error("unknown-tfvar", format!("/{}", pointer_token(key)), msg));
            }
        }
        for (name, &(file, has_default)) in &self.declared {
            if !has_default && !values.contains_key(*name) {
                let msg = format!(
                    "variable \"{name}\" (declared in {file}) has no default and is not set here; \
                     terraform would prompt for it"
                );
                findings.push(Finding::error("unset-variable", None, msg));
            }
        }
        (true, findings)
    }
}

/// Escapes a key as one RFC 6901 reference token.
fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUTS: &str = r#"
output "cluster_endpoint" { value = "https://k8s" }
output "database_host" { value = "db" }
output "cache_host" { value = "cache" }
"#;

    fn module(files: &[(&str, &str)]) -> BTreeMap<String, String> {
        files.iter().map(|(name, text)| (name.to_string(), text.to_string())).collect()
    }

    fn report_for<'r>(reports: &'r [ResourceReport], name: &str) -> &'r ResourceReport {
        reports.iter().find(|r| r.name.as_deref() == Some(name)).unwrap_or_else(|| panic!("no report for {name}"))
    }

    /// The findings of `rule` in the report for file `name`.
    fn with_rule<'r>(reports: &'r [ResourceReport], name: &str, rule: &str) -> Vec<&'r Finding> {
        report_for(reports, name).findings.iter().filter(|f| f.rule == rule).collect()
    }

    /// Every finding of `rule`, as (file name, message).
    fn all_with_rule(reports: &[ResourceReport], rule: &str) -> Vec<(String, String)> {
        reports
            .iter()
            .flat_map(|r| {
                r.findings
                    .iter()
                    .filter(|f| f.rule == rule)
                    .map(|f| (r.name.clone().unwrap_or_default(), f.message.clone()))
            })
            .collect()
    }

    #[test]
    fn clean_module_has_no_findings() {
        let files = module(&[
            ("variables.tf", "variable \"region\" {\n  type = string\n}\nvariable \"size\" {\n  default = 3\n}\n"),
            ("main.tf", "locals {\n  where = \"${var.region}-${var.size}\"\n}\n"),
            ("outputs.tf", OUTPUTS),
            (TFVARS, r#"{"region": "eu-west-1"}"#),
        ]);
        let reports = check_module("out/terraform", &files);

        let names: Vec<_> = reports.iter().map(|r| r.name.as_deref().unwrap_or_default()).collect();
        assert_eq!(names, ["main.tf", "outputs.tf", "variables.tf", TFVARS]);
        for r in &reports {
            assert_eq!(r.status, Status::Valid, "{r:?}");
            assert!(r.findings.is_empty(), "{r:?}");
            assert_eq!(r.kind.as_deref(), Some("TerraformFile"));
            assert_eq!(r.file, format!("out/terraform/{}", r.name.as_deref().unwrap_or_default()));
            assert_eq!((r.document, r.line, r.item), (1, 1, None));
            assert_eq!(r.api_version, None);
        }
    }

    #[test]
    fn syntax_error_reports_location_and_status_error() {
        let files = module(&[
            ("main.tf", "locals {\n  a = var.nope\n}\n"),
            ("variables.tf", "variable \"x\" {\n  type = = string\n}\n"),
            ("outputs.tf", OUTPUTS),
        ]);
        let reports = check_module("m", &files);

        let broken = report_for(&reports, "variables.tf");
        assert_eq!(broken.status, Status::Error);
        assert_eq!(broken.findings.len(), 1);
        assert_eq!(broken.findings[0].rule, "hcl-syntax");
        assert!(broken.findings[0].message.contains("2:"), "{}", broken.findings[0].message);
        // The broken file could declare anything: no cross-file guesses.
        assert!(all_with_rule(&reports, "undeclared-variable").is_empty());
        assert_eq!(report_for(&reports, "main.tf").status, Status::Valid);
    }

    #[test]
    fn undeclared_variable_in_quoted_and_heredoc_templates() {
        let main = r#"
locals {
  name = "${var.prefix}-app"
  script = <<-EOT
    echo ${var.greeting}
    %{ if var.verbose }set -x%{ endif }
    %{ for h in var.hosts }${h}%{ endfor }
  EOT
}
"#;
        let files = module(&[("main.tf", main), ("outputs.tf", OUTPUTS)]);
        let reports = check_module("m", &files);

        let found = with_rule(&reports, "main.tf", "undeclared-variable");
        for name in ["prefix", "greeting", "verbose", "hosts"] {
            assert!(
                found.iter().any(|f| f.message.contains(&format!("var.{name} "))),
                "{name} not reported: {found:?}"
            );
        }
        assert_eq!(found.len(), 4);
        assert!(found.iter().all(|f| f.severity == Severity::Error && f.pointer.is_none()));
        assert!(found[0].message.contains("declare it"));
        assert_eq!(report_for(&reports, "main.tf").status, Status::Invalid);
    }

    #[test]
    fn undeclared_variable_in_for_expressions_function_calls_and_keys() {
        let main = r#"
locals {
  cidrs  = [for i in range(var.zones) : cidrsubnet(var.cidr, 8, i) if i != var.skip]
  names  = { for k, v in var.map : upper(k) => v }
  picked = local.sizes[var.tier]
  tags   = { "cluster/${var.cluster}" = "owned" }
  nested = try(coalesce(var.deep), null)
}

resource "x" "y" {
  dynamic "rule" {
    for_each = var.rules
    content {
      port = rule.value
    }
  }
  count = var.enabled ? 1 : 0
}
"#;
        let files = module(&[("main.tf", main), ("outputs.tf", OUTPUTS)]);
        let reports = check_module("m", &files);

        let found: BTreeSet<String> = with_rule(&reports, "main.tf", "undeclared-variable")
            .iter()
            .filter_map(|f| f.message.split_whitespace().next().map(str::to_owned))
            .collect();
        let expected: BTreeSet<String> =
            ["zones", "cidr", "skip", "map", "tier", "cluster", "deep", "rules", "enabled"]
                .map(|n| format!("var.{n}"))
                .into();
        assert_eq!(found, expected);
    }

    #[test]
    fn duplicate_variable_is_reported_on_the_second_declaration() {
        let files = module(&[
            ("a.tf", "variable \"x\" {}\noutput \"o\" { value = var.x }\n"),
            ("b.tf", "variable \"x\" {\n  default = 1\n}\n"),
            ("outputs.tf", OUTPUTS),
        ]);
        let reports = check_module("m", &files);

        assert!(with_rule(&reports, "a.tf", "duplicate-variable").is_empty());
        let dup = with_rule(&reports, "b.tf", "duplicate-variable");
        assert_eq!(dup.len(), 1);
        assert!(dup[0].message.contains("\"x\"") && dup[0].message.contains("a.tf"), "{}", dup[0].message);
        assert_eq!(report_for(&reports, "b.tf").status, Status::Invalid);
    }

    #[test]
    fn unset_variable_and_unknown_tfvar() {
        let vars = "variable \"region\" {}\nvariable \"zone\" {}\nvariable \"size\" {\n  default = null\n}\n";
        let main = "locals {\n  all = [var.region, var.zone, var.size]\n}\n";
        let tfvars = r#"{"region": "eu", "regoin": "typo", "a/b~c": 1}"#;
        let files = module(&[("variables.tf", vars), ("main.tf", main), ("outputs.tf", OUTPUTS), (TFVARS, tfvars)]);
        let reports = check_module("m", &files);

        let tfvars_report = report_for(&reports, TFVARS);
        assert_eq!(tfvars_report.status, Status::Invalid);
        let unset = with_rule(&reports, TFVARS, "unset-variable");
        assert_eq!(unset.len(), 1, "a variable with `default = null` is optional");
        assert!(unset[0].message.contains("\"zone\"") && unset[0].message.contains("variables.tf"));

        let unknown = with_rule(&reports, TFVARS, "unknown-tfvar");
        let pointers: Vec<_> = unknown.iter().map(|f| f.pointer.as_deref().unwrap_or_default()).collect();
        assert_eq!(pointers, ["/regoin", "/a~1b~0c"]);
        assert!(unknown.iter().all(|f| f.severity == Severity::Error));
    }

    #[test]
    fn without_tfvars_unset_variables_are_not_reported() {
        let files = module(&[("main.tf", "variable \"x\" {}\nlocals {\n  y = var.x\n}\n"), ("outputs.tf", OUTPUTS)]);
        let reports = check_module("m", &files);
        assert_eq!(reports.len(), 2);
        assert!(reports.iter().all(|r| r.status == Status::Valid && r.findings.is_empty()), "{reports:?}");
    }

    #[test]
    fn tfvars_syntax() {
        let base = [("main.tf", OUTPUTS)];
        let not_json = module(&[base[0], (TFVARS, "{ region = \"eu\" }")]);
        let reports = check_module("m", &not_json);
        let report = report_for(&reports, TFVARS);
        assert_eq!(report.status, Status::Error);
        assert_eq!(report.findings.len(), 1);
        assert_eq!(report.findings[0].rule, "tfvars-syntax");

        let not_object = module(&[base[0], (TFVARS, "[1, 2]")]);
        let reports = check_module("m", &not_object);
        let report = report_for(&reports, TFVARS);
        assert_eq!(report.status, Status::Invalid);
        assert_eq!(report.findings.iter().map(|f| f.rule).collect::<Vec<_>>(), ["tfvars-syntax"]);
    }

    #[test]
    fn missing_output_goes_to_outputs_tf() {
        let outputs = "output \"cluster_endpoint\" { value = 1 }\noutput \"cache_host\" { value = 2 }\n";
        let files = module(&[("a.tf", "locals {}\n"), ("outputs.tf", outputs)]);
        let reports = check_module("m", &files);

        let missing = with_rule(&reports, "outputs.tf", "missing-output");
        assert_eq!(missing.len(), 1);
        assert!(missing[0].message.contains("\"database_host\""));
        assert_eq!(report_for(&reports, "outputs.tf").status, Status::Invalid);
        assert!(report_for(&reports, "a.tf").findings.is_empty());
    }

    #[test]
    fn missing_output_without_outputs_tf_goes_to_first_file() {
        let files = module(&[("b.tf", "locals {}\n"), ("a.tf", "output \"cache_host\" { value = 2 }\n")]);
        let reports = check_module("m", &files);
        assert_eq!(with_rule(&reports, "a.tf", "missing-output").len(), 2);
        assert!(with_rule(&reports, "b.tf", "missing-output").is_empty());
    }

    #[test]
    fn unused_variable_is_a_warning_and_self_validation_is_not_a_use() {
        let vars = r#"
variable "used" {}
variable "unused" {
  validation {
    condition     = length(var.unused) > 0
    error_message = "Must not be empty."
  }
}
variable "checked" {
  validation {
    condition     = var.checked != var.used
    error_message = "Must differ from used."
  }
}
"#;
        let files = module(&[("variables.tf", vars), ("outputs.tf", OUTPUTS)]);
        let reports = check_module("m", &files);

        let unused = all_with_rule(&reports, "unused-variable");
        let names: Vec<_> = unused.iter().map(|(file, msg)| (file.as_str(), msg.split('"').nth(1))).collect();
        assert_eq!(names, [("variables.tf", Some("checked")), ("variables.tf", Some("unused"))]);
        let report = report_for(&reports, "variables.tf");
        assert!(report.findings.iter().all(|f| f.severity == Severity::Warning));
        assert_eq!(report.status, Status::Valid);
    }

    /// The root modules meshctl ships must pass without tfvars (which the
    /// renderer supplies per deployment).
    #[test]
    fn shipped_modules_have_no_errors() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/terraform");
        for provider in ["aws", "gcp", "azure", "offline"] {
            let dir = root.join(provider);
            let mut files = BTreeMap::new();
            let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            for entry in entries {
                let path = entry.expect("directory entry").path();
                if path.extension().is_some_and(|ext| ext == "tf") {
                    let name = path.file_name().and_then(|n| n.to_str()).expect("UTF-8 file name").to_owned();
                    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    files.insert(name, text);
                }
            }
            assert!(files.contains_key("variables.tf"), "{provider}: no variables.tf");

            let reports = check_module(&format!("templates/terraform/{provider}"), &files);
            assert_eq!(reports.len(), files.len());
            let errors: Vec<_> = reports
                .iter()
                .flat_map(|r| r.findings.iter().filter(|f| f.severity == Severity::Error).map(move |f| (&r.file, f)))
                .collect();
            assert!(errors.is_empty(), "{provider}: {errors:#?}");
        }
    }
}
