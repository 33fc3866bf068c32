//! The module graph of `src/`, read by parsing every file with `syn` (the parser procedural
//! macros use), and the rules ARCHITECTURE.md states about it.
//!
//! Every path counts, wherever it is written: `use` trees (nested, multi-line, renamed with
//! `as`, globs, `pub use` re-exports), paths in code and types, and paths inside macro
//! invocations and `macro_rules!` bodies (`$crate::…`). A path is resolved as the compiler
//! resolves it: `crate::`, `super::`, `self::`, a child module, or a name a `use` brought in.
//! Unit tests (`#[cfg(test)]` items, `*_tests.rs` files) may use anything and are left out.
//!
//! The store's privacy is kept by the compiler itself (`tests/layers.rs`); these rules are the
//! ones visibility cannot express.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

type ModPath = Vec<String>;

/// One file of `src/`: its module path and every crate path it names, resolved.
struct Module {
    file: PathBuf,
    path: ModPath,
    /// Lines outside the unit tests (from the first `#[cfg(test)]` on).
    lines: usize,
    uses: BTreeSet<ModPath>,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_test_file(file: &Path) -> bool {
    let stem = file.file_stem().unwrap().to_string_lossy();
    stem == "tests" || stem.ends_with("_tests")
}

/// `src/usecases/checkins/page.rs` is `usecases::checkins::page`; a `mod.rs` is its folder.
fn module_path(file: &Path) -> ModPath {
    let rel = file.strip_prefix(src()).unwrap().with_extension("");
    let mut path: ModPath = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(path.last().map(String::as_str), Some("mod" | "lib")) {
        path.pop();
    }
    path
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.meta
                .require_list()
                .is_ok_and(|l| l.tokens.to_string() == "test")
    })
}

/// Every path a file writes, as segments, before resolution; and the names its `use` items
/// bring in (`use a::b as c` brings `c` for `a::b`).
#[derive(Default)]
struct Paths {
    written: Vec<Vec<String>>,
    imported: Vec<(String, Vec<String>)>,
}

impl Paths {
    fn use_tree(&mut self, prefix: &[String], tree: &syn::UseTree) {
        let with = |name: String| {
            let mut p = prefix.to_vec();
            p.push(name);
            p
        };
        match tree {
            syn::UseTree::Path(p) => self.use_tree(&with(p.ident.to_string()), &p.tree),
            syn::UseTree::Name(n) => {
                let full = with(n.ident.to_string());
                self.imported.push((n.ident.to_string(), full.clone()));
                self.written.push(full);
            }
            syn::UseTree::Rename(r) => {
                let full = with(r.ident.to_string());
                self.imported.push((r.rename.to_string(), full.clone()));
                self.written.push(full);
            }
            syn::UseTree::Glob(_) => self.written.push(prefix.to_vec()),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.use_tree(prefix, t)),
        }
    }

    /// Runs of `a::b::c` in a macro's tokens (`$crate` counts as `crate`).
    fn tokens(&mut self, tokens: TokenStream) {
        let mut flat = Vec::new();
        flatten(tokens, &mut flat);
        let mut i = 0;
        while i < flat.len() {
            let TokenTree::Ident(first) = &flat[i] else {
                i += 1;
                continue;
            };
            let mut run = vec![first.to_string()];
            let mut j = i + 1;
            while let (
                Some(TokenTree::Punct(a)),
                Some(TokenTree::Punct(b)),
                Some(TokenTree::Ident(next)),
            ) = (flat.get(j), flat.get(j + 1), flat.get(j + 2))
            {
                if a.as_char() != ':' || b.as_char() != ':' {
                    break;
                }
                run.push(next.to_string());
                j += 3;
            }
            if run.len() > 1 {
                self.written.push(run);
            }
            i = j;
        }
    }
}

fn flatten(tokens: TokenStream, out: &mut Vec<TokenTree>) {
    for tree in tokens {
        match tree {
            TokenTree::Group(g) => flatten(g.stream(), out),
            other => out.push(other),
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Macro(m) => &m.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if !is_cfg_test(attrs) {
            syn::visit::visit_item(self, item);
        }
    }
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&[], &item.tree);
    }
    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.written
            .push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, path);
    }
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}

/// The crate's modules, each with what it names.
fn modules() -> Vec<Module> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.retain(|f| !is_test_file(f) && !f.ends_with("main.rs"));
    let known: BTreeSet<ModPath> = files.iter().map(|f| module_path(f)).collect();
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            let parsed = syn::parse_file(&text).unwrap_or_else(|e| panic!("{file:?}: {e}"));
            let mut paths = Paths::default();
            paths.visit_file(&parsed);
            let path = module_path(&file);
            let uses = resolve(&path, &paths, &known);
            let lines = text
                .lines()
                .take_while(|l| l.trim() != "#[cfg(test)]")
                .count();
            Module {
                file,
                path,
                lines,
                uses,
            }
        })
        .collect()
}

/// The module each written path lands in (its longest prefix that is a module of the crate),
/// resolving `crate`, `super`, `self`, child modules and imported names; paths outside the
/// crate (std, dependencies, local items) are dropped.
fn resolve(here: &ModPath, paths: &Paths, known: &BTreeSet<ModPath>) -> BTreeSet<ModPath> {
    let absolute = |segments: &[String], imports: &BTreeMap<String, ModPath>| -> Option<ModPath> {
        let (first, rest) = segments.split_first()?;
        let mut base = match first.as_str() {
            "crate" | "aftercare" => Vec::new(),
            "self" => here.clone(),
            "super" => here[..here.len().saturating_sub(1)].to_vec(),
            name => {
                let child = [here.clone(), vec![name.to_string()]].concat();
                if known.contains(&child) {
                    child
                } else {
                    let mut imported = imports.get(name)?.clone();
                    imported.extend(rest.iter().cloned());
                    return Some(imported);
                }
            }
        };
        let mut rest = rest.iter().peekable();
        while rest.peek().is_some_and(|s| *s == "super") {
            base.pop();
            rest.next();
        }
        base.extend(rest.cloned());
        Some(base)
    };
    // Imports may name each other (`use super::x; use x::Y;`): resolve until nothing changes.
    let mut imports: BTreeMap<String, ModPath> = BTreeMap::new();
    for _ in 0..3 {
        for (name, target) in &paths.imported {
            if let Some(abs) = absolute(target, &imports) {
                imports.insert(name.clone(), abs);
            }
        }
    }
    paths
        .written
        .iter()
        .filter_map(|p| absolute(p, &imports))
        .filter_map(|abs| {
            (0..=abs.len())
                .rev()
                .map(|n| abs[..n].to_vec())
                .find(|prefix| !prefix.is_empty() && known.contains(prefix))
        })
        .filter(|target| target != here)
        .collect()
}

/// The graph between the children of `parent` (each child with everything under it): which
/// sibling each one names. A child naming its parent or its own children is not an edge here.
fn siblings(modules: &[Module], parent: &[String]) -> BTreeMap<String, BTreeSet<String>> {
    let child_of = |p: &ModPath| -> Option<String> {
        (p.len() > parent.len() && p.starts_with(parent)).then(|| p[parent.len()].clone())
    };
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in modules {
        let Some(from) = child_of(&m.path) else {
            continue;
        };
        let edges = graph.entry(from.clone()).or_default();
        for used in &m.uses {
            if let Some(to) = child_of(used).filter(|to| *to != from) {
                edges.insert(to);
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

fn path(s: &str) -> ModPath {
    s.split("::").map(String::from).collect()
}

#[test]
fn no_modules_import_each_other_in_a_cycle() {
    let modules = modules();
    // Sanity: the reader sees imports of every kind it claims to.
    let uses = |from: &str, to: &str| {
        modules
            .iter()
            .any(|m| m.path == path(from) && m.uses.contains(&path(to)))
    };
    assert!(uses("usecases::treatments", "usecases::reminders"));
    assert!(uses("web::page", "web::csrf"));
    let parents: BTreeSet<ModPath> = modules
        .iter()
        .flat_map(|m| (0..m.path.len()).map(|n| m.path[..n].to_vec()))
        .collect();
    let cycles: Vec<String> = parents
        .iter()
        .filter_map(|parent| {
            let cycle = find_cycle(&siblings(&modules, parent))?;
            Some(format!(
                "under crate::{}: {}",
                parent.join("::"),
                cycle.join(" → ")
            ))
        })
        .collect();
    assert!(
        cycles.is_empty(),
        "modules import each other in a cycle: {cycles:#?}"
    );
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
fn the_reader_resolves_what_a_text_search_misses() {
    let source = r#"
        use crate::usecases::{
            clinic,
            store as db,
        };
        pub use super::sibling::*;
        macro_rules! m { () => { $crate::web::page::x() } }
        fn f() { db::users::find(); format!("{}", crate::dates::Locale::EnGb); }
        #[cfg(test)]
        mod tests { use crate::jobs::x; }
    "#;
    let mut paths = Paths::default();
    paths.visit_file(&syn::parse_file(source).unwrap());
    let known: BTreeSet<ModPath> = [
        "usecases::clinic",
        "usecases::store",
        "usecases::store::users",
        "mail::sibling",
        "web::page",
        "dates",
        "jobs",
    ]
    .into_iter()
    .map(path)
    .collect();
    let found = resolve(&path("mail::reminder"), &paths, &known);
    let expected: BTreeSet<ModPath> = [
        "usecases::clinic",
        "usecases::store",
        "usecases::store::users",
        "mail::sibling",
        "web::page",
        "dates",
    ]
    .into_iter()
    .map(path)
    .collect();
    assert_eq!(found, expected);
}

/// What each layer may not name (ARCHITECTURE.md, "Layers").
#[test]
fn each_layer_names_only_what_is_below_it() {
    let above = |layer: &str| -> &[&str] {
        match layer {
            // Renders and sends: the use case decides, mail formats.
            "mail" => &[
                "usecases", "web", "jobs", "cli", "startup", "metrics", "config",
            ],
            // Settings read into the types of the layers below that use them (mail's).
            "config" => &["usecases", "web", "jobs", "cli", "startup"],
            "care" => &[
                "usecases", "web", "jobs", "cli", "startup", "mail", "config", "auth",
            ],
            "usecases" => &["web", "jobs", "cli", "startup"],
            "jobs" => &["web", "cli", "startup"],
            "web" => &["jobs", "cli"],
            "auth" | "dates" | "words" | "text" | "clock" | "error" | "documents" => {
                &["usecases", "web", "jobs", "cli", "startup", "mail"]
            }
            _ => &[],
        }
    };
    let breaches: Vec<String> = modules()
        .iter()
        .flat_map(|m| {
            let forbidden = m.path.first().map_or(&[][..], |layer| above(layer));
            m.uses
                .iter()
                .filter(|used| forbidden.contains(&used[0].as_str()))
                .map(|used| format!("{} names crate::{}", m.file.display(), used.join("::")))
        })
        .collect();
    assert!(
        breaches.is_empty(),
        "a layer names one above it: {breaches:#?}"
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
        ("clinic", &["clinic", "locations"][..]),
        ("database", &["settings"][..]),
        ("demo", &["users", "patients"][..]),
        ("patients", &["patients"][..]),
        ("outcomes", &["outcomes"][..]),
        ("reminders", &["reminders", "heartbeats"][..]),
        ("treatments", &["treatments"][..]),
    ]);
    for m in modules() {
        let [first, area, ..] = m.path.as_slice() else {
            continue;
        };
        if first != "usecases" || area == "store" {
            continue;
        }
        let allowed = owns.get(area.as_str()).copied().unwrap_or(&[]);
        for used in &m.uses {
            if let [_, store, table, ..] = used.as_slice() {
                assert!(
                    store != "store" || allowed.contains(&table.as_str()),
                    "{} reads the {table} tables; ask the {table} use cases",
                    m.file.display()
                );
            }
        }
    }
}

/// Files a newcomer can hold: none over 600 lines, tests apart.
#[test]
fn no_source_file_is_over_600_lines() {
    let long: Vec<String> = modules()
        .iter()
        .filter(|m| m.lines > 600)
        .map(|m| format!("{} ({} lines)", m.file.display(), m.lines))
        .collect();
    assert!(long.is_empty(), "split along its seams: {long:#?}");
}

/// Routes are added only in the route table (`web/routes.rs`), which the permission test
/// walks: a route served another way would escape that test. `/metrics` is the one exception:
/// served apart, on an address of its own (`web/metrics.rs`), for the operator's scraper.
#[test]
fn routes_are_served_only_from_the_route_table() {
    #[derive(Default)]
    struct Registrations(Vec<String>);
    impl<'ast> Visit<'ast> for Registrations {
        fn visit_attribute(&mut self, attr: &'ast syn::Attribute) {
            let routing = ["get", "post", "put", "delete", "patch", "route", "routes"];
            if routing.iter().any(|r| attr.path().is_ident(r)) {
                self.0
                    .push(format!("#[{}]", attr.path().get_ident().unwrap()));
            }
        }
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            let method = call.method.to_string();
            if ["route", "service"].contains(&method.as_str()) {
                self.0.push(format!(".{method}(…)"));
            }
            syn::visit::visit_expr_method_call(self, call);
        }
        fn visit_path(&mut self, path: &'ast syn::Path) {
            let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
            if let [.., web, what] = names.as_slice() {
                if web == "web" && (what == "resource" || what == "scope") {
                    self.0.push(format!("web::{what}(…)"));
                }
            }
            syn::visit::visit_path(self, path);
        }
    }
    for m in modules() {
        let may_serve = m.path == path("web::routes") || m.path == path("web::metrics");
        if may_serve {
            continue;
        }
        let text = std::fs::read_to_string(&m.file).unwrap();
        let mut found = Registrations::default();
        found.visit_file(&syn::parse_file(&text).unwrap());
        assert!(
            found.0.is_empty(),
            "{} serves a route outside web/routes.rs: {:?}",
            m.file.display(),
            found.0
        );
    }
}

/// The structs the store declares (its rows and what it is given to write), by name.
fn store_structs() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&src().join("usecases").join("store"), &mut files);
    let mut names = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for item in syn::parse_file(&text).unwrap().items {
            if let syn::Item::Struct(s) = item {
                // A claim is what the worker asks for (when, how many, its token), not a row.
                if !matches!(s.vis, syn::Visibility::Inherited) && s.ident != "Claim" {
                    names.insert(s.ident.to_string());
                }
            }
        }
    }
    names
}

/// What a use-case file hands out (`pub` and `pub(crate)` items, `pub use` re-exports) that is
/// one of the store's structs, under its own name or another.
struct Exposures<'a> {
    store_structs: &'a BTreeSet<String>,
    /// Local names a `use` brought in from the store.
    from_store: BTreeSet<String>,
    found: Vec<String>,
}

impl Exposures<'_> {
    fn is_store_struct(&self, path: &syn::Path) -> bool {
        let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let last = names.last().unwrap();
        (names.iter().any(|n| n == "store") && self.store_structs.contains(last))
            || (names.len() == 1 && self.from_store.contains(last))
    }

    /// Every type path written inside `node` (generics and references included).
    fn types_in(&mut self, what: &str, visit: impl FnOnce(&mut TypePaths)) {
        let mut paths = TypePaths::default();
        visit(&mut paths);
        for path in paths.0 {
            if self.is_store_struct(&path) {
                let name = path.segments.last().unwrap().ident.to_string();
                self.found
                    .push(format!("{what} hands out the store's {name}"));
            }
        }
    }

    fn items(&mut self, items: &[syn::Item]) {
        let exposed = |v: &syn::Visibility| match v {
            syn::Visibility::Public(_) => true,
            syn::Visibility::Restricted(r) => r.path.is_ident("crate"),
            syn::Visibility::Inherited => false,
        };
        for item in items {
            match item {
                syn::Item::Use(u) if exposed(&u.vis) => {
                    let mut paths = Paths::default();
                    paths.use_tree(&[], &u.tree);
                    for (name, full) in paths.imported {
                        let last = full.last().unwrap();
                        if full.iter().any(|s| s == "store") && self.store_structs.contains(last) {
                            self.found
                                .push(format!("`pub use` re-exports the store's {last} as {name}"));
                        }
                    }
                }
                syn::Item::Fn(f) if exposed(&f.vis) && !is_cfg_test(&f.attrs) => {
                    let what = format!("fn {}", f.sig.ident);
                    self.types_in(&what, |p| p.visit_signature(&f.sig));
                }
                syn::Item::Struct(s) if exposed(&s.vis) => {
                    for field in s.fields.iter().filter(|f| exposed(&f.vis)) {
                        let what = format!("struct {}", s.ident);
                        self.types_in(&what, |p| p.visit_type(&field.ty));
                    }
                }
                syn::Item::Enum(e) if exposed(&e.vis) => {
                    let what = format!("enum {}", e.ident);
                    self.types_in(&what, |p| p.visit_item_enum(e));
                }
                syn::Item::Type(t) if exposed(&t.vis) => {
                    let what = format!("type {}", t.ident);
                    self.types_in(&what, |p| p.visit_type(&t.ty));
                }
                syn::Item::Impl(i) if !is_cfg_test(&i.attrs) && i.trait_.is_none() => {
                    for inner in &i.items {
                        if let syn::ImplItem::Fn(f) = inner {
                            if exposed(&f.vis) {
                                let what = format!("fn {}", f.sig.ident);
                                self.types_in(&what, |p| p.visit_signature(&f.sig));
                            }
                        }
                    }
                }
                syn::Item::Mod(m) if !is_cfg_test(&m.attrs) => {
                    if let Some((_, inner)) = &m.content {
                        self.items(inner);
                    }
                }
                _ => {}
            }
        }
    }
}

#[derive(Default)]
struct TypePaths(Vec<syn::Path>);

impl<'ast> Visit<'ast> for TypePaths {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.0.push(path.clone());
        syn::visit::visit_path(self, path);
    }
}

/// Views apart from rows: what the use cases hand to handlers, the worker and templates are
/// their own view structs, never the store's rows, so a column can change without a page
/// changing with it. The store's enums (a reminder's status, a reason) and the connection
/// types are the vocabulary both sides share, and may pass.
#[test]
fn use_cases_hand_out_views_not_store_rows() {
    let store_structs = store_structs();
    assert!(store_structs.contains("PatientRow"), "{store_structs:?}");
    let mut found = Vec::new();
    for m in modules() {
        if m.path.first().map(String::as_str) != Some("usecases")
            || m.path.get(1).map(String::as_str) == Some("store")
        {
            continue;
        }
        let text = std::fs::read_to_string(&m.file).unwrap();
        let file = syn::parse_file(&text).unwrap();
        let mut imports = Paths::default();
        for item in &file.items {
            if let syn::Item::Use(u) = item {
                imports.use_tree(&[], &u.tree);
            }
        }
        let from_store = imports
            .imported
            .into_iter()
            .filter(|(_, full)| {
                full.iter().any(|s| s == "store") && store_structs.contains(full.last().unwrap())
            })
            .map(|(name, _)| name)
            .collect();
        let mut exposures = Exposures {
            store_structs: &store_structs,
            from_store,
            found: Vec::new(),
        };
        exposures.items(&file.items);
        found.extend(
            exposures
                .found
                .into_iter()
                .map(|f| format!("{}: {f}", m.file.display())),
        );
    }
    found.sort();
    found.dedup();
    assert!(
        found.is_empty(),
        "a use case hands out a store row: {found:#?}"
    );
}
