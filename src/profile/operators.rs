//! The profile's `[[operators]]`: who the regulator writes to about each operator's own
//! endpoints and zones (contact, due date, language of the notice). Each must name an operator
//! the profile declares on an endpoint or a domain, once.

use std::collections::BTreeSet;

use serde_spanned::Spanned;

use super::diagnostic::Diagnostic;
use super::raw::RawOperator;
use super::OperatorContact;

/// The languages a notice can be written in.
const LANGUAGES: [&str; 4] = ["en", "es", "pt", "fr"];

/// Validate the `[[operators]]` tables against the operators the profile declares.
pub(super) fn operators(
    raw: &[RawOperator],
    declared: &BTreeSet<String>,
    is_date: impl Fn(&str) -> bool,
) -> (Vec<OperatorContact>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut contacts = Vec::new();
    let mut error = |at: usize, message: String, help: String| diagnostics.push(Diagnostic::new(at, message, help));
    for operator in raw {
        let name = operator.name.get_ref().trim().to_string();
        let at = operator.name.span().start;
        let known = || declared.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
        if name.is_empty() {
            error(at, "operators.name is empty".into(), "name the operator as in `operator` of its endpoints".into());
            continue;
        }
        if !declared.contains(&name) {
            let help = if declared.is_empty() {
                "no endpoint or domain declares an `operator`: add `operator = \"…\"` to them first".to_string()
            } else {
                format!("use a name declared on an endpoint or domain: {}", known())
            };
            error(at, format!("operators.name \"{name}\" is not the operator of any endpoint or domain"), help);
        }
        if !seen.insert(name.clone()) {
            error(at, format!("operator \"{name}\" has two [[operators]] tables"), "merge them into one".into());
        }
        let contact = text(operator.contact.as_ref(), "contact", &mut error);
        let due = operator.due.as_ref().and_then(|due| match due.get_ref() {
            toml::Value::Datetime(d) if d.date.is_some() && d.time.is_none() => Some(d.to_string()),
            toml::Value::String(s) if is_date(s) => Some(s.clone()),
            _ => {
                error(due.span().start, "operators.due must be a date".into(), "write it as due = 2027-06-30".into());
                None
            }
        });
        let lang = operator.lang.as_ref().and_then(|lang| {
            let value = lang.get_ref().trim().to_ascii_lowercase();
            if LANGUAGES.contains(&value.as_str()) {
                Some(value)
            } else {
                error(
                    lang.span().start,
                    format!("operators.lang \"{}\" is not a report language", lang.get_ref()),
                    "use one of \"en\", \"es\", \"pt\", \"fr\"".into(),
                );
                None
            }
        });
        contacts.push(OperatorContact { name, contact, due, lang });
    }
    // A profile with diagnostics is refused as a whole: the contacts are not used.
    (contacts, diagnostics)
}

fn text(value: Option<&Spanned<String>>, field: &str, error: &mut impl FnMut(usize, String, String)) -> Option<String> {
    let value = value?;
    let trimmed = value.get_ref().trim();
    if trimmed.is_empty() {
        error(
            value.span().start,
            format!("operators.{field} is empty"),
            format!("write the {field} or remove the key"),
        );
        return None;
    }
    Some(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Profile;

    const HEAD: &str =
        "schema_version = 1\n[country]\ncode = \"UY\"\nname = \"Uruguay\"\n[scope]\nnames = [\"example.uy\"]\n\
        [[endpoints]]\nhost = \"www.example.uy\"\nservice = \"https\"\nsector = \"operator\"\noperator = \"Antel\"\n";

    #[test]
    fn operators_name_a_declared_operator_with_a_date_and_a_language() {
        let good = format!("{HEAD}[[operators]]\nname = \"Antel\"\ncontact = \"CSIRT <csirt@example.uy>\"\ndue = 2027-06-30\nlang = \"es\"\n");
        let profile = Profile::parse(&good, Path::new("uy.toml")).unwrap();
        let antel = &profile.operators[0];
        assert_eq!(
            (antel.name.as_str(), antel.due.as_deref(), antel.lang.as_deref()),
            ("Antel", Some("2027-06-30"), Some("es"))
        );
        assert_eq!(antel.contact.as_deref(), Some("CSIRT <csirt@example.uy>"));

        let bad = format!("{HEAD}[[operators]]\nname = \"Antell\"\ndue = \"soon\"\nlang = \"de\"\n[[operators]]\nname = \"Antel\"\n[[operators]]\nname = \"Antel\"\n");
        let error = Profile::parse(&bad, Path::new("uy.toml")).unwrap_err().to_string();
        for expected in [
            "uy.toml:13:8",
            "operators.name \"Antell\" is not the operator of any endpoint or domain",
            "use a name declared on an endpoint or domain: \"Antel\"",
            "operators.due must be a date",
            "operators.lang \"de\" is not a report language",
            "operator \"Antel\" has two [[operators]] tables",
        ] {
            assert!(error.contains(expected), "{expected:?} missing from:\n{error}");
        }
        let unknown_key = format!("{HEAD}[[operators]]\nname = \"Antel\"\nemail = \"x\"\n");
        let error = Profile::parse(&unknown_key, Path::new("uy.toml")).unwrap_err().to_string();
        assert!(error.contains("email") && error.contains("contact"), "{error}");
    }
}
