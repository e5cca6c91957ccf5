//! Loads arbitrary configuration text with `pushwire::hub::config_file`,
//! the path of `pushwire serve --config FILE`: JSON, TOML or YAML parsed
//! into a tree, `PUSHWIRE_*` environment overrides applied, typed into
//! `pushwire::hub::Config` and validated.
//!
//! Checks, besides "no panic":
//! - `load` gives exactly what its steps (`parse`, `apply_env`, `typed`)
//!   give one after the other;
//! - the tree prints as JSON (`--print-config`), and that JSON, loaded
//!   again without the environment, gives the same typed configuration,
//!   or the same error when typing failed;
//! - every error names a key (a well-formed dotted path, or the
//!   environment variable that could not be applied) or the position of
//!   the text that does not parse (`line N`, YAML's `position N`), but
//!   for three errors about the whole text (not a table, several YAML
//!   documents, YAML aliases expanding too much); when a value has the wrong
//!   type, the key named is the one holding it (not the table around it).
//!
//! Input layout: byte 0, `% 3` the format (JSON, TOML, YAML), `/ 3 % 4`
//! the number of environment variables; then that many lines
//! `NAME=VALUE\n` (`PUSHWIRE_` is put before NAME); the rest is the text.
//! Text that is not UTF-8 is skipped (the CLI refuses it before parsing).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire::hub::config_file::{self, Format};
use serde_json::Value;

const ORIGIN: &str = "fuzz.conf";

fuzz_target!(|data: &[u8]| {
    let Some((&head, mut rest)) = data.split_first() else {
        return;
    };
    let format = [Format::Json, Format::Toml, Format::Yaml][usize::from(head % 3)];
    let mut env = Vec::new();
    for _ in 0..(head / 3) % 4 {
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            break;
        };
        let Ok(line) = std::str::from_utf8(&rest[..end]) else {
            return;
        };
        rest = &rest[end + 1..];
        let (name, value) = line.split_once('=').unwrap_or((line, ""));
        env.push((format!("PUSHWIRE_{name}"), value.to_string()));
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };

    let loaded = config_file::load(text, format, ORIGIN, env.clone());

    // The same, step by step, keeping the tree.
    let tree = match config_file::parse(text, format) {
        Ok(tree) => tree,
        Err(e) => {
            let e = format!("{ORIGIN}: {e}");
            check_names_key_or_position(&e, None);
            assert_eq!(loaded.err(), Some(e), "load and parse disagree");
            return;
        }
    };
    let mut tree = tree;
    if let Err(e) = config_file::apply_env(&mut tree, env) {
        check_names_key_or_position(&e, None);
        assert_eq!(loaded.err(), Some(e), "load and apply_env disagree");
        return;
    }
    let typed = config_file::typed(&tree, ORIGIN).map(|c| format!("{c:?}"));
    if let Err(e) = &typed {
        check_names_key_or_position(e, Some(&tree));
    }
    assert_eq!(
        loaded.map(|c| format!("{c:?}")),
        typed,
        "load and typed disagree"
    );

    // `--print-config`, loaded again.
    let printed = serde_json::to_string_pretty(&tree).expect("a tree prints as JSON");
    let again =
        config_file::load(&printed, Format::Json, ORIGIN, Vec::new()).map(|c| format!("{c:?}"));
    assert_eq!(
        again, typed,
        "the printed configuration loads differently:\n{printed}"
    );
});

/// An error names a key, an environment variable or a position; with the
/// tree that was typed, a key said to hold a value of the wrong type
/// holds that value.
fn check_names_key_or_position(e: &str, tree: Option<&Value>) {
    let what = e.strip_prefix(ORIGIN).and_then(|e| e.strip_prefix(": "));
    let ok = match what {
        // An environment variable that could not be applied: it is named,
        // then the key it would set.
        None => e
            .strip_prefix("PUSHWIRE_")
            .and_then(|e| e.split_once(": "))
            .is_some_and(|(name, why)| {
                !name.is_empty()
                    && (why.ends_with(": not a table")
                        || why.strip_prefix("key `").is_some_and(|why| {
                            why.split_once("`: ")
                                .is_some_and(|(key, _)| well_formed(key))
                        }))
            }),
        // About the whole text, not a place in it.
        Some(
            "the configuration must be a table of keys"
            | "deserializing from YAML containing more than one document is not supported"
            | "repetition limit exceeded",
        ) => true,
        Some(what) => {
            if let Some(key) = what.strip_prefix("key `") {
                key.split_once("`: ").is_some_and(|(key, reason)| {
                    well_formed(key) && tree.is_none_or(|tree| holds(tree, key, reason))
                })
            } else if let Some((key, _)) = what.split_once(": ") {
                well_formed(key) || has_position(what)
            } else {
                has_position(what)
            }
        }
    };
    assert!(ok, "the error names no key nor position: {e:?}");
}

/// Whether the value at `key` is what `reason` complains about: a reason
/// about a scalar (`invalid type: string "x", expected a boolean`,
/// `unknown variant`) never names a table or a list.
fn holds(tree: &Value, key: &str, reason: &str) -> bool {
    let about_scalar = reason.starts_with("unknown variant")
        || reason
            .strip_prefix("invalid type: ")
            .is_some_and(|kind| !kind.starts_with("map") && !kind.starts_with("sequence"));
    if !about_scalar {
        return true;
    }
    // `a.b[2].c` as a JSON pointer; a key the pointer cannot follow (one
    // with `.`, `[` or `~` in its name) is not checked.
    let mut pointer = String::new();
    for part in key.split('.') {
        let (name, index) = part.split_once('[').unwrap_or((part, ""));
        if name.contains(['~', '/', ']']) {
            return true;
        }
        pointer.push('/');
        pointer.push_str(name);
        for i in index.split('[').filter(|i| !i.is_empty()) {
            pointer.push('/');
            pointer.push_str(i.trim_end_matches(']'));
        }
    }
    !matches!(
        tree.pointer(&pointer),
        Some(Value::Object(_) | Value::Array(_))
    )
}

/// `client.token.audience`, `channel.namespaces[2].name`: no empty part,
/// no unknown part (`?`).
fn well_formed(key: &str) -> bool {
    !key.is_empty()
        && key
            .split('.')
            .all(|part| !part.is_empty() && part != "?" && !part.starts_with('['))
}

/// `line 3 column 7`, `line 3, column 7`, or (YAML's reader) `at
/// position 12`.
fn has_position(e: &str) -> bool {
    ["line ", "position "].iter().any(|word| {
        e.match_indices(word)
            .any(|(i, m)| e[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
    })
}
