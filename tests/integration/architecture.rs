//! The shape of the code, checked on every run (docs/ARCHITECTURE.md): imports point down the
//! layers, no module imports one above it, no import cycle, tenants are passed as typed ids,
//! stored modes and roles are never guessed, and files and handlers stay readable.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module's layer: a module imports only from lower layers (and itself).
const LAYERS: &[(&str, u8)] = &[
    ("db", 0),
    ("error", 1),
    ("ids", 1),
    ("config", 1),
    ("ops", 2),
    ("limits", 2),
    ("vault", 2),
    ("tenants", 3),
    ("auth", 4),
    ("activity", 4),
    ("notify", 4),
    ("scim", 5),
    ("people", 6),
    ("issuer", 7),
    ("sso", 8),
    ("state", 9),
    ("http", 10),
    ("cli", 11),
];

/// The longest file, and the one file allowed past it (half of it is its tests).
const MAX_FILE_LINES: usize = 600;
const LONG_FILE: &str = "scim/filter.rs";
/// The longest HTTP handler.
const MAX_HANDLER_LINES: usize = 40;

/// A source file: its module path (`scim::store::members`) and its text without tests and
/// comments.
struct Source {
    module: String,
    rel: String,
    text: String,
    lines: usize,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The text with `#[cfg(test)]` items and comments removed.
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]" {
            // Skip the item that follows, to its closing brace.
            let mut depth = 0i32;
            let mut opened = false;
            for l in lines.by_ref() {
                depth += l.matches('{').count() as i32 - l.matches('}').count() as i32;
                opened |= l.contains('{');
                if (opened && depth <= 0) || (!opened && l.trim_end().ends_with(';')) {
                    break;
                }
            }
            continue;
        }
        let kept = match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        out.push_str(kept);
        out.push('\n');
    }
    out
}

fn sources() -> Vec<Source> {
    let root = src_dir();
    let mut files = Vec::new();
    walk(&root, &mut files);
    files
        .into_iter()
        .filter_map(|p| {
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let mut parts: Vec<&str> = rel.trim_end_matches(".rs").split('/').collect();
            if parts.last() == Some(&"mod") {
                parts.pop();
            }
            if parts == ["lib"] || parts == ["main"] {
                return None;
            }
            let raw = std::fs::read_to_string(&p).unwrap();
            Some(Source {
                module: parts.join("::"),
                rel,
                lines: raw.lines().count(),
                text: code(&raw),
            })
        })
        .collect()
}

/// The deepest known module a path names (`scim::store::list` for `scim::store::list::list`).
fn resolve(modules: &BTreeSet<String>, path: &[&str]) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m))
}

/// The identifier path starting at `at` in `text`, with any `{ ... }` group expanded into
/// one path per item.
fn paths_at(text: &str, at: usize) -> Vec<Vec<String>> {
    let rest = &text[at..];
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(rest.len());
    let head: Vec<String> = rest[..end]
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if rest[end..].starts_with('{') {
        let close = rest[end..].find('}').map_or(rest.len(), |c| end + c);
        let group = &rest[end + 1..close];
        return group
            .split(',')
            .map(|item| {
                let mut p = head.clone();
                p.extend(
                    item.trim()
                        .split(['{', ' '])
                        .next()
                        .unwrap_or_default()
                        .split("::")
                        .filter(|s| !s.is_empty() && *s != "self")
                        .map(str::to_owned),
                );
                p
            })
            .collect();
    }
    vec![head]
}

/// Every module each module imports, from `crate::`, `super::` and its own `mod` children.
fn imports(sources: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = sources.iter().map(|s| s.module.clone()).collect();
    let mut graph = BTreeMap::new();
    for s in sources {
        let here: Vec<&str> = s.module.split("::").collect();
        let parent = &here[..here.len() - 1];
        let mut found = BTreeSet::new();
        for (prefix, base) in [("crate::", &[][..]), ("super::", parent)] {
            for (at, _) in s.text.match_indices(prefix) {
                let before = s.text[..at].chars().last();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue;
                }
                for p in paths_at(&s.text, at + prefix.len()) {
                    let mut full: Vec<&str> = base.to_vec();
                    full.extend(p.iter().map(String::as_str));
                    if let Some(m) = resolve(&modules, &full) {
                        found.insert(m);
                    }
                }
            }
        }
        // `child::item` of a module this file declares.
        for m in &modules {
            if let Some(child) = m.strip_prefix(&format!("{}::", s.module)) {
                if !child.contains("::") && s.text.contains(&format!("{child}::")) {
                    found.insert(m.clone());
                }
            }
        }
        found.remove(&s.module);
        if !s.module.is_empty() {
            graph.insert(s.module.clone(), found);
        }
    }
    graph
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

#[test]
fn imports_point_down_the_layers() {
    let graph = imports(&sources());
    let layer: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut wrong = Vec::new();
    for (from, tos) in &graph {
        let Some(&mine) = layer.get(top(from)) else {
            wrong.push(format!("{from} is in no layer: add it to LAYERS"));
            continue;
        };
        for to in tos {
            let theirs = layer.get(top(to)).copied().unwrap_or(u8::MAX);
            if top(to) != top(from) && theirs >= mine {
                wrong.push(format!("{from} imports {to}, which is not below it"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The lines of the issue that set this, spelled out.
    for (from, to) in graph
        .iter()
        .flat_map(|(f, ts)| ts.iter().map(move |t| (f, t)))
    {
        let (f, t) = (top(from), top(to));
        assert!(
            !(f == "db" && ["scim", "sso", "people", "http"].contains(&t)),
            "{from} imports {to}"
        );
        assert!(
            !(f == "scim" && ["sso", "people", "http"].contains(&t)),
            "{from} imports {to}"
        );
    }
}

#[test]
fn no_import_cycles() {
    // A module owns its submodules: they may use what it holds (`super::helper`), and that
    // is no cycle. Any other loop is.
    let graph: BTreeMap<String, BTreeSet<String>> = imports(&sources())
        .into_iter()
        .map(|(from, tos)| {
            let kept = tos
                .into_iter()
                .filter(|to| !from.starts_with(&format!("{to}::")))
                .collect();
            (from, kept)
        })
        .collect();
    // Tarjan's strongly connected components over the file graph.
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        cycles: Vec<Vec<&'g str>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                s.low.entry(v).and_modify(|l| *l = (*l).min(lw));
            } else if s.stack.contains(&w) {
                let iw = s.index[w];
                s.low.entry(v).and_modify(|l| *l = (*l).min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                component.push(w);
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.cycles.push(component);
            }
        }
    }
    let mut s = State {
        graph: &graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        cycles: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    assert!(s.cycles.is_empty(), "import cycles: {:?}", s.cycles);
}

#[test]
fn tenants_are_typed_and_stored_names_never_guessed() {
    for s in sources() {
        for name in ["tenant", "tenant_id", "tenant_slug"] {
            assert!(
                !s.text.contains(&format!("{name}: &str")),
                "{}: a tenant passed as &str ({name}); take a TenantId or a TenantSlug",
                s.rel
            );
        }
        for guess in [
            "unwrap_or(Mode::",
            "unwrap_or(Role::",
            "unwrap_or_default::<Mode",
        ] {
            assert!(
                !s.text.contains(guess),
                "{}: a stored mode or role parsed with a fallback ({guess})",
                s.rel
            );
        }
    }
}

#[test]
fn files_and_handlers_stay_readable() {
    for s in sources() {
        let raw = std::fs::read_to_string(src_dir().join(&s.rel)).unwrap();
        assert!(
            s.lines <= MAX_FILE_LINES || s.rel == LONG_FILE,
            "{} has {} lines; split it by what its parts do",
            s.rel,
            s.lines
        );
        assert!(
            !raw.contains("allow(clippy::unwrap_used)"),
            "{}: tests may unwrap through clippy.toml",
            s.rel
        );
        if !s.rel.starts_with("http/") {
            continue;
        }
        for (name, len) in handlers(&s.text) {
            assert!(
                len <= MAX_HANDLER_LINES,
                "{}: handler {name} has {len} lines; move its work into a function",
                s.rel
            );
        }
    }
    let clippy =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("clippy.toml")).unwrap();
    assert!(clippy.contains("allow-unwrap-in-tests = true"));
}

/// The request handlers of a file: `async fn`s that take the app's state, the request or the
/// admin caller, with their length in lines.
fn handlers(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(at) = lines[i].find("async fn ") else {
            i += 1;
            continue;
        };
        let name: String = lines[i][at + 9..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let (mut depth, mut signature, mut j) = (0i32, String::new(), i);
        let mut opened = false;
        while j < lines.len() {
            if !opened {
                signature.push_str(lines[j]);
            }
            depth += lines[j].matches('{').count() as i32 - lines[j].matches('}').count() as i32;
            opened |= lines[j].contains('{');
            if opened && depth <= 0 {
                break;
            }
            j += 1;
        }
        let params = signature.split(')').next().unwrap_or_default();
        if ["web::Data<", "HttpRequest", "Caller"]
            .iter()
            .any(|p| params.contains(p))
        {
            out.push((name, j - i + 1));
        }
        i = j + 1;
    }
    out
}

#[test]
fn the_checks_see_what_they_check() {
    // The parser finds imports in every form the code uses.
    let text = "use super::{idp, oidc::Start};\nuse crate::db::{sql::Builder, DbConn};\n\
                fn f() { crate::people::users::find(); child::x(); }";
    let paths: Vec<Vec<String>> = paths_at(text, text.find("super::").unwrap() + 7);
    assert_eq!(paths, vec![vec!["idp"], vec!["oidc", "Start"]]);
    let graph = imports(&sources());
    assert!(graph["sso::login"].contains("sso::protocol"));
    assert!(graph["scim::store"].contains("scim::store::members"));
    assert!(graph["http::scim"].contains("http::caller"));
    assert!(graph["people::users"].contains("scim::store"));
    // A handler is found and measured.
    let h = handlers("async fn h(\n    state: web::Data<AppState>,\n) -> X {\n    a();\n}\n");
    assert_eq!(h, vec![("h".to_owned(), 5)]);
}
