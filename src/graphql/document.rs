//! The one way a GraphQL document is parsed, on every path (GET, POST, batches, multipart):
//! scanned first, then parsed on a stack that is large enough whatever the scan concluded.
//!
//! async-graphql's parser recurses once per nesting level, and a stack overflow aborts the
//! process (it cannot be caught). So a document is first [`scan`]ned with GraphQL's lexical
//! rules, exactly as the parser's grammar states them (comments end at `\r` or `\n`, a block
//! string's only escape is `\"""`): its tokens are counted and the nesting of `{}`, `()` and
//! `[]` measured, and a document over either limit is refused without being parsed.
//!
//! The scan is the fast path, not the only guard. The parse then runs on a stack sized from
//! the number of opening bracket characters in the text (every nesting level needs one, so
//! that bound holds whatever the scan decided), and the parsed document's real depth is
//! measured, and a too-deep one dropped, on that same stack. A scan that is wrong can then
//! cost time, never the process.

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};

/// What a document may hold before it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentLimits {
    /// Deepest nesting of brackets of all kinds together.
    pub max_nesting: usize,
    /// Most tokens (names, numbers, strings, punctuators; not whitespace or comments).
    pub max_tokens: usize,
    /// Most fields the operations may select with their fragments spread in place.
    pub max_fields: usize,
}

impl From<&crate::config::GraphqlLimits> for DocumentLimits {
    fn from(limits: &crate::config::GraphqlLimits) -> Self {
        Self {
            max_nesting: limits.max_nesting,
            max_tokens: limits.max_tokens,
            // Each field is one unit of complexity: more fields than that could never run.
            max_fields: limits.max_complexity,
        }
    }
}

/// Why a document was refused before or during parsing (`GRAPHQL_PARSE_FAILED`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("The document nests more than {max} levels deep")]
    TooDeep { max: usize },
    #[error("The document has more than {max} tokens")]
    TooManyTokens { max: usize },
    #[error("The document holds more than {max} bracket characters")]
    TooManyBrackets { max: usize },
    #[error("With its fragments spread, the document selects more than {max} fields")]
    TooManyFields { max: usize },
    #[error("Fragments are spread inside one another more than {max} deep")]
    FragmentsTooDeep { max: usize },
    #[error("Syntax error at line {line}, column {column}: {what}")]
    Syntax {
        line: usize,
        column: usize,
        what: &'static str,
    },
    /// The parser's own message.
    #[error("{0}")]
    Parser(String),
}

impl Refused {
    /// `GRAPHQL_PARSE_FAILED` for what kept the document from being parsed,
    /// `GRAPHQL_VALIDATION_FAILED` for a parsed document over a limit.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooManyFields { .. } | Self::FragmentsTooDeep { .. } => {
                crate::error::code::GRAPHQL_VALIDATION_FAILED
            }
            _ => crate::error::code::GRAPHQL_PARSE_FAILED,
        }
    }
}

/// What the scan measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scanned {
    pub tokens: usize,
    pub depth: usize,
}

fn syntax(doc: &[u8], at: usize, what: &'static str) -> Refused {
    let before = &doc[..at.min(doc.len())];
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n' || *b == b'\r')
        .map_or(0, |i| i + 1);
    let line = 1 + before
        .iter()
        .enumerate()
        .filter(|(i, b)| **b == b'\n' || (**b == b'\r' && before.get(i + 1) != Some(&b'\n')))
        .count();
    let column = 1 + String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count();
    Refused::Syntax { line, column, what }
}

const BOM: &[u8] = "\u{feff}".as_bytes();

/// What the scan calls a block string with no end (which the parser would read otherwise).
pub const UNTERMINATED_BLOCK_STRING: &str = "unterminated block string";

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The end of the string starting at `start` (a `"`), following the grammar: a block string
/// (`"""`) ends at the first `"""` not preceded by a backslash and has no other escape; a
/// plain string has the escapes `\" \\ \/ \b \f \n \r \t \uXXXX` and no line break.
///
/// The grammar is a PEG: a block string that never ends is not an error to the parser but
/// a failed alternative, and it goes on with the other one, a plain string (the list
/// `["""\\"""]` with no `"""` after it holds three strings, `""`, `"\\"` and `""`). Each
/// such opening costs the parser a pass over the rest of the document, so a document of
/// them costs the square of its length. The scan refuses a block string that never ends
/// instead: stricter than the grammar, for documents no client writes.
fn string_end(doc: &[u8], start: usize) -> Result<usize, Refused> {
    if doc[start..].starts_with(b"\"\"\"") {
        let mut i = start + 3;
        loop {
            let rest = &doc[i.min(doc.len())..];
            if rest.is_empty() {
                return Err(syntax(doc, start, UNTERMINATED_BLOCK_STRING));
            }
            if rest.starts_with(b"\"\"\"") {
                return Ok(i + 3);
            }
            i += if rest.starts_with(b"\\\"\"\"") { 4 } else { 1 };
        }
    }
    let mut i = start + 1;
    loop {
        match doc.get(i) {
            None | Some(b'\n' | b'\r') => return Err(syntax(doc, start, "unterminated string")),
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => match doc.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    let hex = doc.get(i + 2..i + 6).unwrap_or_default();
                    let surrogate = hex.first().is_some_and(|h| matches!(h, b'd' | b'D'))
                        && hex
                            .get(1)
                            .is_some_and(|h| matches!(h, b'8' | b'9' | b'a'..=b'f' | b'A'..=b'F'));
                    if hex.len() != 4 || !hex.iter().all(u8::is_ascii_hexdigit) || surrogate {
                        return Err(syntax(doc, i, "invalid unicode escape"));
                    }
                    i += 6;
                }
                _ => return Err(syntax(doc, i, "invalid escape sequence")),
            },
            Some(_) => i += 1,
        }
    }
}

/// The end of the number starting at `start`: `-`? digits (`.` digits)? (`e` sign? digits)?
fn number_end(doc: &[u8], start: usize) -> usize {
    let digits = |mut i: usize| {
        while doc.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = start + usize::from(doc[start] == b'-');
    i = digits(i);
    if doc.get(i) == Some(&b'.') && doc.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i = digits(i + 1);
    }
    if matches!(doc.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(doc.get(i + 1), Some(b'+' | b'-')));
        if doc.get(i + 1 + sign).is_some_and(u8::is_ascii_digit) {
            i = digits(i + 1 + sign);
        }
    }
    i.max(start + 1)
}

/// Scans `doc` without building anything: counts its tokens and measures how deeply its
/// brackets nest, refusing it as soon as a limit is passed, and refusing what the grammar
/// cannot parse (an unknown character, an unterminated string, unbalanced brackets).
///
/// # Errors
/// [`Refused`] saying which limit or rule the document broke.
pub fn scan(doc: &str, limits: &DocumentLimits) -> Result<Scanned, Refused> {
    let b = doc.as_bytes();
    let (mut i, mut tokens, mut depth) = (0usize, 0usize, 0usize);
    // The kinds of the brackets still open; never longer than `max_nesting`.
    let mut open: Vec<u8> = Vec::new();
    while let Some(&c) = b.get(i) {
        // Ignored tokens: whitespace, line terminators, commas, the BOM and comments.
        match c {
            b' ' | b'\t' | b',' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                while b.get(i).is_some_and(|c| *c != b'\n' && *c != b'\r') {
                    i += 1;
                }
                continue;
            }
            _ if b[i..].starts_with(BOM) => {
                i += BOM.len();
                continue;
            }
            _ => {}
        }
        tokens += 1;
        if tokens > limits.max_tokens {
            return Err(Refused::TooManyTokens {
                max: limits.max_tokens,
            });
        }
        i = match c {
            b'{' | b'(' | b'[' => {
                open.push(c);
                if open.len() > limits.max_nesting {
                    return Err(Refused::TooDeep {
                        max: limits.max_nesting,
                    });
                }
                depth = depth.max(open.len());
                i + 1
            }
            b'}' | b')' | b']' => {
                let opener = match c {
                    b'}' => b'{',
                    b')' => b'(',
                    _ => b'[',
                };
                if open.pop() != Some(opener) {
                    return Err(syntax(b, i, "unbalanced brackets"));
                }
                i + 1
            }
            b'"' => string_end(b, i)?,
            b'.' if b[i..].starts_with(b"...") => i + 3,
            b'!' | b'$' | b'&' | b':' | b'=' | b'@' | b'|' => i + 1,
            b'-' | b'0'..=b'9' => number_end(b, i),
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                let mut end = i + 1;
                while b.get(end).copied().is_some_and(is_name_char) {
                    end += 1;
                }
                end
            }
            _ => return Err(syntax(b, i, "unexpected character")),
        };
    }
    if !open.is_empty() {
        return Err(syntax(b, b.len(), "unclosed bracket"));
    }
    Ok(Scanned { tokens, depth })
}

/// Stack the parser needs beyond its nesting, and per level of nesting. Measured: the
/// unoptimised parser needs about 5.2 KiB a level (lists, objects), the optimised one
/// about 1.3 KiB.
const BASE_STACK: usize = 256 * 1024;
const STACK_PER_LEVEL: usize = 8 * 1024;

/// Scans, then parses `doc` on a stack sized for the deepest nesting its text could hold.
///
/// # Errors
/// [`Refused`] for a document over a limit or one the parser rejects.
pub fn parse(doc: &str, limits: &DocumentLimits) -> Result<ExecutableDocument, Refused> {
    scan(doc, limits)?;
    parse_guarded(doc, limits)
}

/// The parse alone, safe whatever the scan concluded.
fn parse_guarded(doc: &str, limits: &DocumentLimits) -> Result<ExecutableDocument, Refused> {
    // Counted on the raw text, strings and comments included: a bound on the parser's
    // recursion that does not depend on the scan being right. A document that passed the
    // scan has at most `max_tokens` real brackets.
    let brackets = doc
        .bytes()
        .filter(|b| matches!(b, b'{' | b'(' | b'['))
        .count();
    if brackets > limits.max_tokens {
        return Err(Refused::TooManyBrackets {
            max: limits.max_tokens,
        });
    }
    let stack = BASE_STACK + brackets * STACK_PER_LEVEL;
    stacker::maybe_grow(stack, stack, || {
        let parsed = async_graphql::parser::parse_query(doc).map_err(parser_error)?;
        // Measured (and, if too deep, dropped: dropping recurses too) on this stack.
        if depth::document(&parsed) > limits.max_nesting {
            drop(parsed);
            return Err(Refused::TooDeep {
                max: limits.max_nesting,
            });
        }
        let expanded = expansion::measure(&parsed);
        if expanded.chain > limits.max_nesting {
            drop(parsed);
            return Err(Refused::FragmentsTooDeep {
                max: limits.max_nesting,
            });
        }
        if expanded.fields > limits.max_fields {
            return Err(Refused::TooManyFields {
                max: limits.max_fields,
            });
        }
        Ok(parsed)
    })
}

/// The parser's complaint, without the copy of the offending line its message carries (an
/// answer must stay small next to its request, and a document may be one long line).
fn parser_error(err: async_graphql::parser::Error) -> Refused {
    use async_graphql::parser::Error;
    match err {
        Error::Syntax { message, start, .. } => {
            let expected = message
                .lines()
                .find_map(|l| l.trim().strip_prefix("= "))
                .unwrap_or("unexpected input");
            let mut expected = expected.to_owned();
            if expected.len() > 200 {
                let mut end = 200;
                while !expected.is_char_boundary(end) {
                    end -= 1;
                }
                expected.truncate(end);
                expected.push('…');
            }
            Refused::Parser(format!(
                "Syntax error at line {}, column {}: {expected}",
                start.line, start.column
            ))
        }
        other => Refused::Parser(other.to_string()),
    }
}

/// The real nesting of a parsed document, counted as the scan counts it.
pub fn depth(doc: &ExecutableDocument) -> usize {
    depth::document(doc)
}

pub mod cache;
mod depth;
mod expansion;

#[cfg(test)]
mod tests;

/// The type of the operation a document would run (`None` when it names no such operation).
pub fn operation_type(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<OperationType> {
    match &doc.operations {
        DocumentOperations::Single(op) => Some(op.node.ty),
        DocumentOperations::Multiple(ops) => match operation_name {
            Some(name) => ops.get(name).map(|op| op.node.ty),
            // Several operations and no name: the executor refuses it; for GET, any
            // mutation among them is enough to refuse it first.
            None => ops
                .values()
                .map(|op| op.node.ty)
                .find(|ty| *ty == OperationType::Mutation)
                .or_else(|| ops.values().next().map(|op| op.node.ty)),
        },
    }
}
