//! The include graph of the report templates, checked once at load: a partial that includes
//! itself, directly or through others, would recurse until the stack overflows (handlebars has no
//! depth limit), so such a set of templates is refused with the chain named, and so is a nesting
//! deeper than [`MAX_INCLUDE_DEPTH`] or a partial whose name is computed at render time.

use std::collections::BTreeMap;

use handlebars::template::{Parameter, Template, TemplateElement};
use handlebars::Handlebars;

/// How deep partials may nest (the built-in templates use 3: country → item → findings).
pub const MAX_INCLUDE_DEPTH: usize = 8;

/// The partials each template (and each inline partial) includes, by name.
fn includes(template: &Template, owner: &str, graph: &mut BTreeMap<String, Vec<String>>) -> Result<(), String> {
    for element in &template.elements {
        match element {
            TemplateElement::PartialExpression(partial) | TemplateElement::PartialBlock(partial) => {
                let name = partial
                    .name
                    .as_name()
                    .filter(|_| !matches!(partial.name, Parameter::Subexpression(_)))
                    .ok_or_else(|| format!("{owner}: a partial's name must be written out, not computed"))?;
                if !name.starts_with('@') {
                    graph.entry(owner.to_string()).or_default().push(name.to_string());
                }
                if let Some(inner) = &partial.template {
                    includes(inner, owner, graph)?;
                }
            }
            TemplateElement::DecoratorBlock(decorator) => {
                // `{{#*inline "name"}}…{{/inline}}` defines a partial: its includes are its own.
                let inline = match decorator.params.first() {
                    Some(Parameter::Literal(serde_json::Value::String(name))) => name.clone(),
                    _ => owner.to_string(),
                };
                if let Some(inner) = &decorator.template {
                    includes(inner, &inline, graph)?;
                }
            }
            TemplateElement::HelperBlock(block) => {
                for inner in block.template.iter().chain(&block.inverse) {
                    includes(inner, owner, graph)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Refuse templates whose partials include each other or nest deeper than [`MAX_INCLUDE_DEPTH`].
pub fn check(handlebars: &Handlebars) -> Result<(), String> {
    let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, template) in handlebars.get_templates() {
        includes(template, name, &mut graph)?;
    }
    fn walk(graph: &BTreeMap<String, Vec<String>>, chain: &mut Vec<String>) -> Result<(), String> {
        let current = chain.last().cloned().unwrap_or_default();
        for next in graph.get(&current).into_iter().flatten() {
            if chain.contains(next) {
                return Err(format!("templates include each other: {} → {next}", chain.join(" → ")));
            }
            if chain.len() > MAX_INCLUDE_DEPTH {
                return Err(format!(
                    "templates nest deeper than {MAX_INCLUDE_DEPTH} includes: {} → {next}",
                    chain.join(" → ")
                ));
            }
            chain.push(next.clone());
            walk(graph, chain)?;
            chain.pop();
        }
        Ok(())
    }
    for root in graph.keys() {
        walk(&graph, &mut vec![root.clone()])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(templates: &[(&str, &str)]) -> Handlebars<'static> {
        let mut handlebars = Handlebars::new();
        for (name, source) in templates {
            handlebars.register_template_string(name, *source).unwrap();
        }
        handlebars
    }

    #[test]
    fn cycles_and_deep_nesting_are_refused_with_the_chain() {
        let mutual = registry(&[("a", "x{{> b}}"), ("b", "{{#if y}}{{> a}}{{/if}}")]);
        let error = check(&mutual).unwrap_err();
        assert!(error.contains("include each other") && error.contains("a → b → a"), "{error}");
        let itself = registry(&[("a", "{{#each l}}{{> a}}{{/each}}")]);
        assert!(check(&itself).unwrap_err().contains("a → a"));
        let inline = registry(&[("a", "{{#*inline \"i\"}}{{> i}}{{/inline}}{{> i}}")]);
        assert!(check(&inline).unwrap_err().contains("i → i"));
        let computed = registry(&[("a", "{{> (lookup this \"p\")}}")]);
        assert!(check(&computed).unwrap_err().contains("computed"));
        let chain: Vec<(String, String)> =
            (0..12).map(|i| (format!("p{i}"), format!("{{{{> p{}}}}}", i + 1))).collect();
        let chain: Vec<(&str, &str)> = chain.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert!(check(&registry(&chain)).unwrap_err().contains("deeper than 8"));
        let fine = registry(&[("a", "{{> b}}{{> b}}"), ("b", "{{> c}}"), ("c", "leaf")]);
        assert_eq!(check(&fine), Ok(()));
    }
}
