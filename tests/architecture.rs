//! The layering rules of ARCHITECTURE.md, checked on the source tree so they
//! hold after every change: the HTTP layer and the worker never reach the
//! store, and neither the use cases nor the web modules import each other in
//! a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each `.rs` file under `dir` (relative to the crate) with the area it
/// belongs to (a top-level file's name, or its folder's), and its text up to
/// its unit tests (which may use anything).
fn sources(dir: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let first = path
                    .strip_prefix(&root)
                    .unwrap()
                    .components()
                    .next()
                    .unwrap();
                let area = Path::new(first.as_os_str()).file_stem().unwrap();
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap().to_string();
                files.push((area.to_string_lossy().into(), code));
            }
        }
    }
    files
}

/// Lines that are code, not comments.
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.trim_start().starts_with("//"))
}

#[test]
fn handlers_and_the_worker_never_reach_the_store() {
    for dir in ["src/web", "src/jobs"] {
        for (name, text) in sources(dir) {
            for line in code_lines(&text) {
                assert!(
                    !line.contains("store::") && !line.contains("crate::store"),
                    "{dir}/{name}.rs reaches the store; call a use case instead:\n{line}"
                );
            }
        }
    }
}

/// The names a line uses right after `prefix`: `store::users` gives
/// `users`, `super::{a, b::C}` gives `a` and `b`.
fn named_after(line: &str, prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (at, _) in line.match_indices(prefix) {
        let rest = &line[at + prefix.len()..];
        let group = match rest.strip_prefix('{') {
            Some(inner) => inner.split('}').next().unwrap_or(""),
            None => rest,
        };
        for item in group.split(',') {
            names.push(
                item.trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    names
}

/// Which other areas each area refers to through any of `prefixes`
/// (`crate::usecases::`, `super::`), braces included (`super::{a, b}`).
fn references(dir: &str, prefixes: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let files = sources(dir);
    let areas: BTreeSet<String> = files.iter().map(|(a, _)| a.clone()).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (area, text) in &files {
        let uses = graph.entry(area.clone()).or_default();
        for line in code_lines(text) {
            for prefix in prefixes {
                for name in named_after(line, prefix) {
                    if areas.contains(&name) && &name != area {
                        uses.insert(name);
                    }
                }
            }
        }
    }
    graph
}

/// A cycle in `graph`, if there is one, as the path around it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn use_cases_import_each_other_without_cycles() {
    let graph = references("src/usecases", &["crate::usecases::", "super::"]);
    assert!(
        graph["treatments"].contains("reminders"),
        "the check sees imports: {graph:?}"
    );
    assert_eq!(find_cycle(&graph), None, "{graph:?}");
    assert!(
        graph["reminders"].is_disjoint(&BTreeSet::from(["patients".into(), "treatments".into()])),
        "reminders is a bottom use case: {graph:?}"
    );
}

#[test]
fn web_modules_import_each_other_without_cycles() {
    let graph = references("src/web", &["super::"]);
    assert!(
        graph["page"].contains("csrf"),
        "the check sees imports: {graph:?}"
    );
    assert_eq!(find_cycle(&graph), None, "{graph:?}");
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let graph = BTreeMap::from([
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["c".to_string()])),
        ("c".to_string(), BTreeSet::from(["a".to_string()])),
    ]);
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

#[test]
fn each_use_case_reads_only_its_own_tables() {
    // The store modules an area may use; anything else it asks of the area
    // that owns it, through that area's use cases.
    let owns: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("accounts", &["users", "settings"][..]),
        ("audit", &["audit"][..]),
        ("audit_writer", &["audit"][..]),
        // Whole-database copies: it reads other tables only in a copy, to count what it holds.
        ("backup", &["backup"][..]),
        ("checkins", &["checkins"][..]),
        ("clinic", &["clinic"][..]),
        ("patients", &["patients"][..]),
        ("reminders", &["reminders", "heartbeats"][..]),
        ("treatments", &["treatments"][..]),
    ]);
    let store_modules: BTreeSet<String> = sources("src/store")
        .into_iter()
        .map(|(module, _)| module)
        .filter(|m| m != "mod")
        .collect();
    for (area, text) in sources("src/usecases") {
        let allowed = owns.get(area.as_str()).copied().unwrap_or(&[]);
        for line in code_lines(&text) {
            for module in named_after(line, "store::") {
                assert!(
                    !store_modules.contains(&module) || allowed.contains(&module.as_str()),
                    "use case {area} reads the {module} tables; ask the {module} use cases:\n{line}"
                );
            }
        }
    }
}

/// Routes are added only in the route table (`web/routes.rs`), which the
/// permission test walks: a route served another way would escape that test.
/// `/metrics` is the one exception: served apart, on an address of its own
/// (`web/metrics.rs`), for the operator's scraper rather than the clinic's users.
#[test]
fn routes_are_served_only_from_the_route_table() {
    let registrations = [
        "#[get(",
        "#[post(",
        "#[route(",
        "web::resource(",
        ".route(",
        ".service(",
    ];
    // In src/web, the table and /metrics; elsewhere in src, nothing (src/web is read on its own).
    let may_serve = |dir: &str, area: &str| match dir {
        "src/web" => area == "routes" || area == "metrics",
        _ => area == "web",
    };
    for dir in ["src", "src/web"] {
        for (area, text) in sources(dir) {
            if may_serve(dir, &area) {
                continue;
            }
            for line in code_lines(&text) {
                assert!(
                    !registrations.iter().any(|r| line.contains(r)),
                    "{dir}/{area} serves a route outside web/routes.rs:\n{line}"
                );
            }
        }
    }
}
