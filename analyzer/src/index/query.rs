//! Why a search query was refused, and where.
//!
//! tantivy's strict parser reports a syntax error as the whole query, and a semantic one (an
//! unknown field, a word where a number goes) without a place. This module finds the place,
//! with the grammar's lenient parser for syntax and a scan of `field:value` clauses for the
//! rest, so that the API can answer `{error, position}` and the UI can point at the token.
//!
//! Positions are offsets in characters (Unicode scalar values) into the query as the user
//! gave it, leading spaces included.

use tantivy::query::QueryParserError;
use tantivy::query_grammar::{Occur, UserInputAst};
use tantivy::schema::{FieldType, Schema};

use crate::error::QueryReason;

/// `a AND NOT b` as the user means it. tantivy's grammar reads it as `+a +(-b)`: a required
/// group of exclusions only, which matches nothing, so the whole query matched nothing. Such a
/// group, required, becomes exclusions of the clause around it (`+a -b`). One left with
/// nothing but exclusions at the top is refused as before, with a hint (see [`parse_failure`]).
pub(super) fn hoist_exclusions(ast: UserInputAst) -> UserInputAst {
    match ast {
        UserInputAst::Clause(children) => {
            let mut out = Vec::with_capacity(children.len());
            for (occur, child) in children {
                let child = hoist_exclusions(child);
                match child {
                    UserInputAst::Clause(inner)
                        if matches!(occur, None | Some(Occur::Must))
                            && !inner.is_empty()
                            && inner.iter().all(|(o, _)| *o == Some(Occur::MustNot)) =>
                    {
                        out.extend(inner);
                    }
                    child => out.push((occur, child)),
                }
            }
            UserInputAst::Clause(out)
        }
        UserInputAst::Boost(inner, boost) => UserInputAst::Boost(Box::new(hoist_exclusions(*inner)), boost),
        leaf => leaf,
    }
}

/// The reason `text` (the trimmed query, which starts at byte `lead` of `query`) does not
/// parse, given tantivy's error `e`.
pub(super) fn parse_failure(query: &str, lead: usize, e: &QueryParserError, schema: &Schema) -> QueryReason {
    let text = &query[lead..];
    let at = |byte: usize, message: String| reason(query, lead + byte, message);
    match e {
        QueryParserError::SyntaxError(_) => {
            syntax(text).map(|(byte, message)| at(byte, message)).unwrap_or_else(|| QueryReason {
                message: "the query does not parse (check parentheses, quotes and ranges)".into(),
                position: None,
            })
        }
        QueryParserError::FieldDoesNotExist(name) => {
            let message = format!("unknown field `{name}`; the fields are {}", field_list(schema, |_| true));
            located(query, lead, name, message)
        }
        QueryParserError::FieldNotIndexed(name) => {
            located(query, lead, name, format!("field `{name}` is not searchable"))
        }
        QueryParserError::FieldDoesNotHavePositionsIndexed(name) => {
            located(query, lead, name, format!("field `{name}` takes one value, not a phrase or a prefix"))
        }
        QueryParserError::ExpectedInt(_) | QueryParserError::ExpectedFloat(_) => match bad_number(text, schema) {
            Some((byte, field, value, wants)) => at(byte, format!("field `{field}` takes {wants}, not `{value}`")),
            None => QueryReason {
                message: "a numeric field was given something that is not a number".into(),
                position: None,
            },
        },
        QueryParserError::AllButQueryForbidden => QueryReason {
            message: "the query only excludes (every term has `NOT` or `-`): say what to search \
                      for too, e.g. `kind:exit AND NOT exit_code:0`"
                .into(),
            position: None,
        },
        QueryParserError::RangeMustNotHavePhrase => QueryReason {
            message: "a range takes plain values, not quoted phrases: `exit_code:[1 TO 255]`".into(),
            position: text.find('[').or_else(|| text.find('{')).map(|b| chars(query, lead + b)),
        },
        other => QueryReason { message: lowercase_first(&other.to_string()), position: None },
    }
}

/// The reason a parsed query failed when it ran: `field:*` parses for any field, but only a
/// field with fast values can answer it.
pub(super) fn exists_failure(query: &str, schema: &Schema, detail: &str) -> QueryReason {
    let mut from = 0;
    while let Some(i) = query[from..].find(":*").map(|i| i + from) {
        let start = query[..i].rfind(|c: char| c.is_whitespace() || matches!(c, '(' | '+' | '-')).map_or(0, |s| s + 1);
        let name = &query[start..i];
        let fast = schema.get_field(name).is_ok_and(|f| schema.get_field_entry(f).is_fast());
        if !fast {
            let supported = field_list(schema, |t| t.is_fast());
            let message = if schema.get_field(name).is_err() {
                format!("unknown field `{name}`; the fields are {}", field_list(schema, |_| true))
            } else {
                format!("`{name}:*` is not supported: `field:*` works on {supported}")
            };
            return reason(query, start, message);
        }
        from = i + 2;
    }
    QueryReason { message: lowercase_first(detail), position: None }
}

/// The first syntax error in `text`: its byte offset and what is wrong there. The mistakes
/// people make most are looked for first, since the grammar's lenient parser recovers from
/// some without a word and places others at the end.
fn syntax(text: &str) -> Option<(usize, String)> {
    dangling_operator(text).or_else(|| unclosed(text)).or_else(|| lenient(text))
}

/// An `AND`, `OR` or `NOT` with nothing on the side it needs.
fn dangling_operator(text: &str) -> Option<(usize, String)> {
    const OPS: [&str; 3] = ["AND", "OR", "NOT"];
    // Each word, with a group's parentheses taken off: `(OR` opens a group with an operator.
    let words: Vec<(usize, &str, bool, bool)> = text
        .split_whitespace()
        .map(|w| {
            let at = w.as_ptr() as usize - text.as_ptr() as usize;
            let bare = w.trim_start_matches('(');
            let opens = bare.len() < w.len();
            let at = at + (w.len() - bare.len());
            let core = bare.trim_end_matches(')');
            (at, core, opens, core.len() < bare.len())
        })
        .collect();
    for (i, &(at, word, opens, closes)) in words.iter().enumerate() {
        if !OPS.contains(&word) {
            continue;
        }
        let before = i.checked_sub(1).map(|j| words[j]);
        let after = words.get(i + 1);
        let nothing_after = closes || after.is_none_or(|&(_, w, opens, _)| !opens && matches!(w, "AND" | "OR" | ""));
        let nothing_before =
            word != "NOT" && (opens || before.is_none_or(|(_, w, _, closes)| !closes && OPS.contains(&w)));
        if nothing_after {
            return Some((at, format!("`{word}` with nothing after it")));
        }
        if nothing_before {
            return Some((at, format!("`{word}` with nothing before it")));
        }
    }
    None
}

/// A `(` or a `"` that is never closed, at its own position.
fn unclosed(text: &str) -> Option<(usize, String)> {
    let mut open = Vec::new();
    let mut quote = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(_), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(_), '"') if !escaped => quote = None,
            (None, '"') => quote = Some(i),
            (None, '(') => open.push(i),
            (None, ')') if open.pop().is_none() => return Some((i, "unexpected `)`".into())),
            _ => {}
        }
        escaped = false;
    }
    match (quote, open.last()) {
        (Some(i), _) => Some((i, "this `\"` is never closed".into())),
        (None, Some(&i)) => Some((i, "this `(` is never closed".into())),
        (None, None) => None,
    }
}

/// The first error the grammar's lenient parser reports.
fn lenient(text: &str) -> Option<(usize, String)> {
    let (_, errors) = tantivy::query_grammar::parse_query_lenient(text);
    let first = errors.into_iter().min_by_key(|e| e.pos)?;
    let pos = first.pos.min(text.len());
    let token = token_at(text, pos);
    let near = if token.is_empty() { "at the end".to_string() } else { format!("at `{token}`") };
    let what = match first.message.as_str() {
        "missing ]" => "a range is not closed (`]` or `}` missing)".to_string(),
        "expected word" => "a value is missing".to_string(),
        "unparsed end of query" => format!("unexpected `{token}`"),
        "Found unexpected boolean operator before term" => "`AND` or `OR` with nothing to join".to_string(),
        m if m.starts_with("parsed keyword NOT as term") => "`NOT` with nothing to exclude".to_string(),
        m if m.starts_with("parsed possible invalid field") => "a `field:` with no value".to_string(),
        m => lowercase_first(m),
    };
    let message = if what.starts_with("unexpected") { what } else { format!("{what} {near}") };
    Some((pos, message))
}

/// The first `field:value` on a numeric field whose value does not parse: its byte offset, the
/// field, the value and what the field takes.
fn bad_number<'a>(text: &'a str, schema: &'a Schema) -> Option<(usize, &'a str, &'a str, &'static str)> {
    for (field, entry) in schema.fields() {
        let name = entry.name();
        let wants = match entry.field_type() {
            FieldType::U64(_) => "a whole number of 0 or more",
            FieldType::I64(_) => "a whole number",
            FieldType::F64(_) => "a number",
            _ => continue,
        };
        let parses = |v: &str| {
            v == "*"
                || match schema.get_field_entry(field).field_type() {
                    FieldType::U64(_) => v.parse::<u64>().is_ok(),
                    FieldType::I64(_) => v.parse::<i64>().is_ok(),
                    _ => v.parse::<f64>().is_ok(),
                }
        };
        for start in clause_starts(text, name) {
            let value_at = start + name.len() + 1;
            for (offset, value) in values(&text[value_at..]) {
                if !parses(value) {
                    return Some((value_at + offset, name, value, wants));
                }
            }
        }
    }
    None
}

/// The values of a clause's right-hand side: one term (after any `>`, `>=`, `<`, `<=`), or the
/// two bounds of a range; with their byte offsets.
fn values(rhs: &str) -> Vec<(usize, &str)> {
    let end_of = |s: &str| s.find(|c: char| c.is_whitespace() || c == ')').unwrap_or(s.len());
    if rhs.starts_with(['[', '{']) {
        let close = rhs.find([']', '}']).unwrap_or(rhs.len());
        let inner = &rhs[1..close];
        let mut out = Vec::new();
        let mut from = 0;
        for word in inner.split_whitespace() {
            let offset = inner[from..].find(word).map_or(from, |i| i + from);
            from = offset + word.len();
            if word != "TO" {
                out.push((1 + offset, word));
            }
        }
        return out;
    }
    let skip = ["<=", ">=", "<", ">"].iter().find(|op| rhs.starts_with(**op)).map_or(0, |op| op.len());
    let start = skip + usize::from(rhs[skip..].starts_with('"'));
    let body = &rhs[start..];
    let end = if start > skip { body.find('"').unwrap_or(body.len()) } else { end_of(body) };
    vec![(start, &body[..end])]
}

/// Byte offsets of `name:` in `text` where it starts a clause (at the start, or after a space,
/// a parenthesis or an occur sign).
fn clause_starts(text: &str, name: &str) -> Vec<usize> {
    let pattern = format!("{name}:");
    text.match_indices(&pattern)
        .map(|(i, _)| i)
        .filter(|&i| {
            i == 0 || text[..i].chars().next_back().is_some_and(|c| c.is_whitespace() || matches!(c, '(' | '+' | '-'))
        })
        .collect()
}

/// A reason at the first clause on field `name`, if the query has one.
fn located(query: &str, lead: usize, name: &str, message: String) -> QueryReason {
    match clause_starts(&query[lead..], name).first() {
        Some(&byte) => reason(query, lead + byte, message),
        None => QueryReason { message, position: None },
    }
}

/// A reason at byte `byte` of `query`, with the position in words.
fn reason(query: &str, byte: usize, message: String) -> QueryReason {
    let position = chars(query, byte);
    QueryReason { message: format!("{message} (character {position})"), position: Some(position) }
}

/// The character offset of byte `byte` (rounded down to a character boundary).
fn chars(query: &str, byte: usize) -> usize {
    let mut byte = byte.min(query.len());
    while !query.is_char_boundary(byte) {
        byte -= 1;
    }
    query[..byte].chars().count()
}

/// The word at byte `pos`: up to the next space, or the one character there if it is a
/// parenthesis.
fn token_at(text: &str, pos: usize) -> &str {
    let rest = text.get(pos..).unwrap_or_default();
    let rest = rest.trim_start();
    match rest.chars().next() {
        None => "",
        Some(c) if matches!(c, '(' | ')' | '[' | ']' | '{' | '}' | '"') => &rest[..c.len_utf8()],
        Some(_) => {
            let end = rest.find(|c: char| c.is_whitespace() || matches!(c, '(' | ')')).unwrap_or(rest.len());
            let token = &rest[..end];
            // A long token is cut in the message (on a character boundary).
            match token.char_indices().nth(40) {
                Some((i, _)) => &token[..i],
                None => token,
            }
        }
    }
}

/// The names of the schema's searchable fields that `keep` selects, comma-separated in
/// backticks.
fn field_list(schema: &Schema, keep: impl Fn(&tantivy::schema::FieldEntry) -> bool) -> String {
    let names: Vec<String> = schema
        .fields()
        .filter(|(_, e)| e.is_indexed() && e.name() != "key" && keep(e))
        .map(|(_, e)| format!("`{}`", e.name()))
        .collect();
    names.join(", ")
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
