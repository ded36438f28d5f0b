//! SCIM filter and PATCH-path grammar (RFC 7644 §3.4.2.2, §3.5.2): parse to an AST, and
//! evaluate against one JSON element.
//!
//! The parser is a hand-written recursive-descent parser over the raw bytes of the input.
//! Tokens are lexed on demand rather than up front, because what counts as a token depends on
//! context: an attribute path may contain `.` and `:`, while an unquoted value (which Microsoft
//! Entra sends, e.g. `externalId eq jyoung`) ends only at whitespace, `)` or `]`.
//!
//! Inputs are untrusted, so every construct that recurses (`( )`, `[ ]`, `not ( )`) checks
//! [`MAX_DEPTH`] *before* recursing, and the number of attribute expressions is capped at
//! [`MAX_CLAUSES`]. The resulting tree is therefore at most a few hundred levels deep, which
//! keeps both [`matches`] and the database translation of the AST safe from stack exhaustion.
//!
//! Database filtering is done elsewhere from the same AST; [`matches`] only evaluates a filter
//! in memory against one JSON value (PATCH uses it to select elements of a multi-valued
//! attribute such as `emails[type eq "work"]`).

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

/// An attribute reference: optional schema URN, attribute name, optional sub-attribute.
/// Names are kept as written; callers resolve them case-insensitively against the schema.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// Schema URN, e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    pub urn: Option<String>,
    /// Attribute name, e.g. `emails` or `$ref`.
    pub name: String,
    /// Sub-attribute name, e.g. `value` in `emails.value`.
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path with just an attribute name (no URN, no sub-attribute).
    pub fn simple(name: impl Into<String>) -> Self {
        AttrPath {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A comparison operator (`pr` is represented by [`Filter::Present`] instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: contains.
    Co,
    /// `sw`: starts with.
    Sw,
    /// `ew`: ends with.
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `lt`: less than.
    Lt,
    /// `ge`: greater than or equal.
    Ge,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// The operator keyword in lower case, as it appears in a filter.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Lt => "lt",
            CompareOp::Ge => "ge",
            CompareOp::Le => "le",
        }
    }

    /// Parse an operator keyword case-insensitively (`pr` is not a comparison operator).
    fn from_keyword(word: &str) -> Option<Self> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Lt,
            CompareOp::Ge,
            CompareOp::Le,
        ];
        ALL.into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The literal on the right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// A quoted string, or an unquoted token that is not a number/boolean/null.
    Str(String),
    /// A JSON number (always finite).
    /// A number, with its text as written: a string attribute compares with the text
    /// (`externalId eq 1.50` means the string "1.50").
    Num(f64, String),
    /// `true` or `false` (any case).
    Bool(bool),
    /// `null` (any case).
    Null,
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Debug-quoting is not JSON-quoting, so go through serde_json.
            CompValue::Str(s) => f.write_str(&Value::String(s.clone()).to_string()),
            CompValue::Num(_, raw) => f.write_str(raw),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Null => f.write_str("null"),
        }
    }
}

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`.
    Compare {
        /// The attribute being compared.
        path: AttrPath,
        /// The comparison operator.
        op: CompareOp,
        /// The literal compared against.
        value: CompValue,
    },
    /// `path pr`.
    Present(AttrPath),
    /// `a and b`.
    And(Box<Filter>, Box<Filter>),
    /// `a or b`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (f)`.
    Not(Box<Filter>),
    /// `emails[type eq "work" and value co "@x"]`: `filter`'s paths are sub-attributes of `path`
    /// (relative: AttrPath{urn:None, name:"type", sub:None}).
    ValuePath {
        /// The multi-valued (or complex) attribute whose elements are filtered.
        path: AttrPath,
        /// The filter applied to each element, with paths relative to the element.
        filter: Box<Filter>,
    },
}

impl Filter {
    /// Binding strength used by `Display` to decide where parentheses are needed.
    fn precedence(&self) -> u8 {
        match self {
            Filter::Or(..) => 0,
            Filter::And(..) => 1,
            _ => 2,
        }
    }

    /// Write `child`, parenthesised if it binds more loosely than `min`.
    fn fmt_child(child: &Filter, min: u8, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if child.precedence() < min {
            write!(f, "({child})")
        } else {
            write!(f, "{child}")
        }
    }
}

/// Formats the filter in canonical SCIM syntax that [`parse_filter`] parses back to an equal
/// AST. Parentheses are only added where precedence or left-associativity requires them, so
/// re-parsing does not add nesting depth.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            // Left-associative: the left operand may be the same operator unparenthesised,
            // the right operand needs parentheses unless it binds strictly tighter.
            Filter::Or(a, b) => {
                Filter::fmt_child(a, 0, f)?;
                f.write_str(" or ")?;
                Filter::fmt_child(b, 1, f)
            }
            Filter::And(a, b) => {
                Filter::fmt_child(a, 1, f)?;
                f.write_str(" and ")?;
                Filter::fmt_child(b, 2, f)
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

/// A PATCH `path`: `attrPath`, or `valuePath` optionally followed by `.subAttr`.
///
/// `name.familyName` is `attr = name.familyName` (sub-attribute inside `attr`), while
/// `emails[type eq "work"].value` is `attr = emails`, `filter = Some(..)`, `sub = Some("value")`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The targeted attribute.
    pub attr: AttrPath,
    /// The value filter in `[...]`, if any; its paths are relative to the elements of `attr`.
    pub filter: Option<Filter>,
    /// The sub-attribute after `]`, if any.
    pub sub: Option<String>,
}

/// Why a filter or path did not parse; `Display` gives a human message with the byte offset.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterError {
    /// What went wrong.
    pub message: String,
    /// Byte offset into the input where the problem was detected.
    pub offset: usize,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

impl std::error::Error for FilterError {}

/// Maximum nesting of parentheses, brackets and `not`.
pub const MAX_DEPTH: usize = 32;
/// Maximum number of attribute expressions (comparisons and `pr`) in one filter.
pub const MAX_CLAUSES: usize = 200;

/// Parse a SCIM filter expression (RFC 7644 §3.4.2.2), including the lenient forms Microsoft
/// Entra sends: unquoted values and `emails[type eq "work"].value eq "x"`.
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    let mut p = Parser::new(input);
    p.skip_ws();
    if p.at_end() {
        return p.fail(p.pos, "empty filter");
    }
    let filter = p.parse_or(false)?;
    p.skip_ws();
    if !p.at_end() {
        return p.fail(
            p.pos,
            format!("expected 'and', 'or' or end of filter, found {}", p.found()),
        );
    }
    Ok(filter)
}

/// Parse a PATCH operation `path` (RFC 7644 §3.5.2): `attrPath` or `valuePath [ "." subAttr ]`.
pub fn parse_path(input: &str) -> Result<PatchPath, FilterError> {
    let mut p = Parser::new(input);
    p.skip_ws();
    if p.at_end() {
        return p.fail(p.pos, "empty path");
    }
    let (start, word) = p.read_word();
    if word.is_empty() {
        return p.fail(
            start,
            format!("expected an attribute path, found {}", p.found()),
        );
    }
    let attr = parse_attr_path(word, start)?;
    let (filter, sub) = if p.bracket_ahead() {
        let (filter, sub) = p.parse_value_path_rest(&attr, start)?;
        (Some(filter), sub.map(|(_, s)| s))
    } else {
        (None, None)
    };
    p.skip_ws();
    if !p.at_end() {
        return p.fail(p.pos, format!("unexpected {} after path", p.found()));
    }
    Ok(PatchPath { attr, filter, sub })
}

/// Recursive-descent parser state. `pos` is a byte offset into `src`; it only ever stops on
/// ASCII bytes (delimiters) or the end, so slicing `src` at it stays on char boundaries.
struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    clauses: usize,
}

/// Bytes that end an attribute path or keyword.
fn is_word_delim(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'(' | b')' | b'[' | b']' | b'"')
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            depth: 0,
            clauses: 0,
        }
    }

    fn fail<T>(&self, offset: usize, message: impl Into<String>) -> Result<T, FilterError> {
        Err(FilterError {
            message: message.into(),
            offset,
        })
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// End offset of the word (attribute path or keyword) starting at `from`.
    fn word_end(&self, from: usize) -> usize {
        let len = self.bytes[from..]
            .iter()
            .position(|&b| is_word_delim(b))
            .unwrap_or(self.bytes.len() - from);
        from + len
    }

    /// The word at the current position, without consuming it (empty at a delimiter).
    fn peek_word(&self) -> &'a str {
        &self.src[self.pos..self.word_end(self.pos)]
    }

    /// Consume the word at the current position; returns its start offset and text.
    fn read_word(&mut self) -> (usize, &'a str) {
        let start = self.pos;
        self.pos = self.word_end(start);
        (start, &self.src[start..self.pos])
    }

    /// Describe what is at the current position, for error messages.
    fn found(&self) -> String {
        match self.peek() {
            None => "end of input".to_string(),
            Some(b) if is_word_delim(b) => format!("'{}'", char::from(b)),
            Some(_) => {
                let word = self.peek_word();
                match word.char_indices().nth(40) {
                    Some((cut, _)) => format!("'{}...'", &word[..cut]),
                    None => format!("'{word}'"),
                }
            }
        }
    }

    /// Consume `word` if it is the next word (case-insensitively).
    fn eat_keyword(&mut self, word: &str) -> bool {
        if self.peek_word().eq_ignore_ascii_case(word) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// Enter one nesting level; called before recursing so hostile input cannot overflow the
    /// stack.
    fn enter(&mut self, offset: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.fail(
                offset,
                format!("filter is nested too deeply (more than {MAX_DEPTH} levels)"),
            );
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Count one attribute expression against [`MAX_CLAUSES`].
    fn count_clause(&mut self, offset: usize) -> Result<(), FilterError> {
        self.clauses += 1;
        if self.clauses > MAX_CLAUSES {
            return self.fail(
                offset,
                format!("filter has too many expressions (more than {MAX_CLAUSES})"),
            );
        }
        Ok(())
    }

    /// `or_expr := and_expr ("or" and_expr)*`, left-associative.
    fn parse_or(&mut self, in_value_path: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_and(in_value_path)?;
        loop {
            self.skip_ws();
            if !self.eat_keyword("or") {
                return Ok(left);
            }
            let right = self.parse_and(in_value_path)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
    }

    /// `and_expr := unary ("and" unary)*`, left-associative.
    fn parse_and(&mut self, in_value_path: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_unary(in_value_path)?;
        loop {
            self.skip_ws();
            if !self.eat_keyword("and") {
                return Ok(left);
            }
            let right = self.parse_unary(in_value_path)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
    }

    /// `unary := "not" "(" filter ")" | "(" filter ")" | attrExp | valuePath ["." sub op value]`.
    fn parse_unary(&mut self, in_value_path: bool) -> Result<Filter, FilterError> {
        self.skip_ws();
        match self.peek() {
            None => {
                return self.fail(
                    self.pos,
                    "expected an attribute expression, found end of input",
                )
            }
            Some(b'(') => return self.parse_group(in_value_path),
            Some(b) if is_word_delim(b) => {
                return self.fail(
                    self.pos,
                    format!("expected an attribute expression, found {}", self.found()),
                )
            }
            Some(_) => {}
        }

        let (start, word) = self.read_word();
        if word.eq_ignore_ascii_case("not") {
            self.skip_ws();
            if self.peek() != Some(b'(') {
                return self.fail(
                    self.pos,
                    format!("expected '(' after 'not', found {}", self.found()),
                );
            }
            // `not ( ... )` counts as a single nesting level: the parentheses belong to `not`.
            let inner = self.parse_group(in_value_path)?;
            return Ok(Filter::Not(Box::new(inner)));
        }

        let path = parse_attr_path(word, start)?;
        if !self.bracket_ahead() {
            return self.parse_attr_tail(path, start);
        }
        if in_value_path {
            return self.fail(self.pos, "value paths cannot be nested inside a value path");
        }
        let (inner, sub) = self.parse_value_path_rest(&path, start)?;
        let filter = match sub {
            None => inner,
            // Entra's `emails[type eq "work"].value eq "x"`: fold the trailing comparison into
            // the element filter, so it must hold for the same element as the bracket filter.
            Some((sub_start, sub)) => {
                let tail = self.parse_attr_tail(AttrPath::simple(sub), sub_start)?;
                Filter::And(Box::new(inner), Box::new(tail))
            }
        };
        Ok(Filter::ValuePath {
            path,
            filter: Box::new(filter),
        })
    }

    /// `"(" filter ")"`, with the current position on the `(`.
    fn parse_group(&mut self, in_value_path: bool) -> Result<Filter, FilterError> {
        let open = self.pos;
        self.enter(open)?;
        self.pos += 1;
        let inner = self.parse_or(in_value_path)?;
        self.skip_ws();
        if self.peek() != Some(b')') {
            return self.fail(
                self.pos,
                format!(
                    "expected ')' to close '(' at byte {open}, found {}",
                    self.found()
                ),
            );
        }
        self.pos += 1;
        self.leave();
        Ok(inner)
    }

    /// Whether a `[` follows (after optional whitespace); consumes the whitespace only if so.
    fn bracket_ahead(&mut self) -> bool {
        let save = self.pos;
        self.skip_ws();
        if self.peek() == Some(b'[') {
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// `"[" valFilter "]" ["." subAttr]`, with the current position on the `[`. Returns the
    /// element filter and the trailing sub-attribute with its offset.
    fn parse_value_path_rest(
        &mut self,
        path: &AttrPath,
        path_start: usize,
    ) -> Result<(Filter, Option<(usize, String)>), FilterError> {
        if path.sub.is_some() {
            return self.fail(
                path_start,
                format!("'{path}' has a sub-attribute and cannot be followed by '['"),
            );
        }
        let open = self.pos;
        self.enter(open)?;
        self.pos += 1;
        let inner = self.parse_or(true)?;
        self.skip_ws();
        if self.peek() != Some(b']') {
            return self.fail(
                self.pos,
                format!(
                    "expected ']' to close '[' at byte {open}, found {}",
                    self.found()
                ),
            );
        }
        self.pos += 1;
        self.leave();

        // The sub-attribute must follow `]` directly: `emails[...].value`.
        if self.peek() != Some(b'.') {
            return Ok((inner, None));
        }
        let (dot, word) = self.read_word();
        let sub = &word[1..];
        if !is_attr_name(sub) {
            return self.fail(
                dot + 1,
                format!("invalid sub-attribute name '{sub}' after ']'"),
            );
        }
        Ok((inner, Some((dot + 1, sub.to_string()))))
    }

    /// After an attribute path: `"pr"` or `compareOp compValue`.
    fn parse_attr_tail(&mut self, path: AttrPath, start: usize) -> Result<Filter, FilterError> {
        self.skip_ws();
        let (op_start, op_word) = self.read_word();
        if op_word.is_empty() {
            return self.fail(
                op_start,
                format!(
                    "expected an operator after '{path}', found {}",
                    self.found()
                ),
            );
        }
        self.count_clause(start)?;

        if op_word.eq_ignore_ascii_case("pr") {
            // `title pr "x"` is a common mistake; say so instead of a generic trailing error.
            self.skip_ws();
            let ok = match self.peek() {
                None | Some(b')') | Some(b']') => true,
                Some(_) => {
                    let next = self.peek_word();
                    next.eq_ignore_ascii_case("and") || next.eq_ignore_ascii_case("or")
                }
            };
            if !ok {
                return self.fail(self.pos, "operator 'pr' does not take a value");
            }
            return Ok(Filter::Present(path));
        }

        let Some(op) = CompareOp::from_keyword(op_word) else {
            return self.fail(op_start, format!("unknown operator '{op_word}'"));
        };
        let value = self.parse_value(op)?;
        Ok(Filter::Compare { path, op, value })
    }

    /// A comparison value: JSON string, number, `true`/`false`/`null`, or (for Entra) an
    /// unquoted token that ends at whitespace, `)` or `]`.
    fn parse_value(&mut self, op: CompareOp) -> Result<CompValue, FilterError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            None | Some(b')') | Some(b']') | Some(b'(') | Some(b'[') => {
                return self.fail(
                    start,
                    format!(
                        "missing value after operator '{op}', found {}",
                        self.found()
                    ),
                )
            }
            Some(b'"') => return self.parse_string().map(CompValue::Str),
            Some(_) => {}
        }
        let len = self.bytes[start..]
            .iter()
            .position(|&b| b.is_ascii_whitespace() || b == b')' || b == b']')
            .unwrap_or(self.bytes.len() - start);
        self.pos = start + len;
        let token = &self.src[start..self.pos];

        for (word, value) in [
            ("true", CompValue::Bool(true)),
            ("false", CompValue::Bool(false)),
            ("null", CompValue::Null),
        ] {
            if token.eq_ignore_ascii_case(word) {
                return Ok(value);
            }
        }
        if is_json_number(token) {
            return match token.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(CompValue::Num(n, token.to_string())),
                _ => self.fail(start, format!("number '{token}' is out of range")),
            };
        }
        Ok(CompValue::Str(token.to_string()))
    }

    /// A JSON string literal, with the current position on the opening quote.
    fn parse_string(&mut self) -> Result<String, FilterError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(run) = self.bytes[self.pos..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\')
            else {
                return self.fail(open, "unterminated string");
            };
            // Copy the plain run in one go; it ends on an ASCII byte, so on a char boundary.
            out.push_str(&self.src[self.pos..self.pos + run]);
            self.pos += run;
            if self.bytes[self.pos] == b'"' {
                self.pos += 1;
                return Ok(out);
            }
            let escape = self.pos;
            self.pos += 1;
            let c = match self.peek() {
                None => return self.fail(open, "unterminated string"),
                Some(b'"') => '"',
                Some(b'\\') => '\\',
                Some(b'/') => '/',
                Some(b'b') => '\u{8}',
                Some(b'f') => '\u{c}',
                Some(b'n') => '\n',
                Some(b'r') => '\r',
                Some(b't') => '\t',
                Some(b'u') => {
                    self.pos += 1;
                    out.push(self.parse_unicode_escape(escape)?);
                    continue;
                }
                Some(_) => {
                    return self.fail(
                        escape,
                        format!(
                            "invalid escape sequence '\\{}' in string",
                            self.found_char()
                        ),
                    )
                }
            };
            self.pos += 1;
            out.push(c);
        }
    }

    /// The (possibly multi-byte) character at the current position, for error messages.
    fn found_char(&self) -> char {
        self.src[self.pos..].chars().next().unwrap_or(' ')
    }

    /// The `XXXX` of `\uXXXX` (position just after the `u`), combining a UTF-16 surrogate pair
    /// when a high surrogate is followed by `\uXXXX` with a low surrogate.
    fn parse_unicode_escape(&mut self, escape: usize) -> Result<char, FilterError> {
        let high = self.hex4(escape)?;
        let code = match high {
            0xD800..=0xDBFF => {
                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return self.fail(escape, "unpaired UTF-16 surrogate in \\u escape");
                }
                self.pos += 2;
                let low = self.hex4(escape)?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return self.fail(escape, "unpaired UTF-16 surrogate in \\u escape");
                }
                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return self.fail(escape, "unpaired UTF-16 surrogate in \\u escape"),
            _ => high,
        };
        match char::from_u32(code) {
            Some(c) => Ok(c),
            None => self.fail(escape, "invalid \\u escape"),
        }
    }

    /// Four hex digits at the current position.
    fn hex4(&mut self, escape: usize) -> Result<u32, FilterError> {
        let Some(digits) = self.bytes.get(self.pos..self.pos + 4) else {
            return self.fail(escape, "invalid \\u escape: expected 4 hex digits");
        };
        let mut code = 0;
        for &d in digits {
            let Some(v) = char::from(d).to_digit(16) else {
                return self.fail(escape, "invalid \\u escape: expected 4 hex digits");
            };
            code = code * 16 + v;
        }
        self.pos += 4;
        Ok(code)
    }
}

/// Split an attribute path word into URN, name and sub-attribute, and validate the names.
///
/// A URN-qualified path is split at the *last* `:` first, because URNs contain dots (`2.0`);
/// the remainder is then split at the first `.`.
fn parse_attr_path(word: &str, offset: usize) -> Result<AttrPath, FilterError> {
    let fail = |at: usize, message: String| {
        Err(FilterError {
            message,
            offset: offset + at,
        })
    };
    let is_urn = word
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    let (urn, rest, rest_at) = if is_urn {
        // `rfind` finds at least the colon of the `urn:` prefix.
        let colon = word.rfind(':').unwrap_or(3);
        let urn = &word[..colon];
        if colon == 3 || urn.ends_with(':') {
            return fail(0, format!("invalid schema URN in '{word}'"));
        }
        // A schema URN ends in `<version>:<ResourceType>` (`...:2.0:User`), so if what precedes
        // the last colon ends in a version, the "attribute" is really the resource type and the
        // path is a bare schema URN.
        let last_segment = urn.rsplit(':').next().unwrap_or("");
        if looks_like_version(last_segment) {
            return fail(
                0,
                format!("'{word}' is a schema URN without an attribute name"),
            );
        }
        (Some(urn.to_string()), &word[colon + 1..], colon + 1)
    } else {
        (None, word, 0)
    };

    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    if name.is_empty() && urn.is_some() {
        return fail(rest_at, format!("'{word}' is missing an attribute name"));
    }
    if !is_attr_name(name) {
        return fail(rest_at, format!("invalid attribute name '{name}'"));
    }
    if let Some(sub) = sub {
        let sub_at = rest_at + name.len() + 1;
        if !is_attr_name(sub) {
            return fail(
                sub_at,
                format!("invalid sub-attribute name '{sub}' in '{word}'"),
            );
        }
    }
    Ok(AttrPath {
        urn,
        name: name.to_string(),
        sub: sub.map(str::to_string),
    })
}

/// `ATTRNAME` (RFC 7643 §2.1): a letter followed by letters, digits, `_` or `-`, with an
/// optional leading `$` for names such as `$ref`.
fn is_attr_name(s: &str) -> bool {
    let s = s.strip_prefix('$').unwrap_or(s);
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `2.0`, `1`, `1.1.0`: digits, optionally separated by single dots.
fn looks_like_version(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

/// Strict JSON number syntax: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
/// Being strict keeps unquoted Entra values like `007` or `1e5f` strings rather than numbers.
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let from = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - from
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

/// Evaluate `filter` against `element` (a JSON object, e.g. one email `{"type":"work","value":"a@x"}`,
/// or a whole resource). `case_exact(path)` says whether string comparison for that attribute is
/// case-sensitive. Paths are looked up case-insensitively in the JSON object keys.
///
/// `case_exact` always receives paths relative to `element`: inside a [`Filter::ValuePath`] the
/// inner relative path is qualified with the outer attribute first (`emails[type eq "x"]` asks
/// about `emails.type`).
pub fn matches(filter: &Filter, element: &Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
    match filter {
        Filter::Compare { path, op, value } => {
            compare(&comparable_values(element, path), *op, value, || {
                case_exact(path)
            })
        }
        Filter::Present(path) => attr_values(element, path).into_iter().any(is_present),
        Filter::And(a, b) => matches(a, element, case_exact) && matches(b, element, case_exact),
        Filter::Or(a, b) => matches(a, element, case_exact) || matches(b, element, case_exact),
        Filter::Not(inner) => !matches(inner, element, case_exact),
        Filter::ValuePath {
            path,
            filter: inner,
        } => {
            let qualified = |p: &AttrPath| case_exact(&qualify(path, p));
            attr_values(element, path).into_iter().any(|v| match v {
                Value::Array(items) => items.iter().any(|item| matches(inner, item, &qualified)),
                Value::Object(_) => matches(inner, v, &qualified),
                _ => false,
            })
        }
    }
}

/// `emails` + `type` → `emails.type`, so the case-exactness callback can see the full path.
fn qualify(outer: &AttrPath, inner: &AttrPath) -> AttrPath {
    if inner.urn.is_some() || inner.sub.is_some() {
        return inner.clone();
    }
    AttrPath {
        urn: outer.urn.clone(),
        name: outer.name.clone(),
        sub: Some(inner.name.clone()),
    }
}

/// Object member lookup, preferring an exact key match, then an ASCII case-insensitive one.
fn get_ci<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    let map = value.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The raw JSON values `path` refers to in `element`: the attribute itself, or its
/// sub-attribute (one per element when the attribute is multi-valued).
fn attr_values<'v>(element: &'v Value, path: &AttrPath) -> Vec<&'v Value> {
    // Extension attributes live under their URN key; core attributes are at the top level
    // even when the filter qualifies them with the core URN.
    let base = path
        .urn
        .as_deref()
        .and_then(|urn| get_ci(element, urn))
        .unwrap_or(element);
    let Some(value) = get_ci(base, &path.name) else {
        return Vec::new();
    };
    match (&path.sub, value) {
        (None, _) => vec![value],
        (Some(sub), Value::Array(items)) => items.iter().filter_map(|i| get_ci(i, sub)).collect(),
        (Some(sub), _) => get_ci(value, sub).into_iter().collect(),
    }
}

/// The scalar values a comparison looks at: arrays are flattened (any element may match), and
/// for a multi-valued complex attribute without a sub-attribute each element's `value` is used
/// (`emails co "x"` means `emails.value co "x"`).
fn comparable_values<'v>(element: &'v Value, path: &AttrPath) -> Vec<&'v Value> {
    let mut out = Vec::new();
    for value in attr_values(element, path) {
        match value {
            Value::Array(items) => {
                for item in items {
                    if item.is_object() {
                        if path.sub.is_none() {
                            out.extend(get_ci(item, "value"));
                        }
                    } else {
                        out.push(item);
                    }
                }
            }
            _ => out.push(value),
        }
    }
    out
}

/// `pr`: present and not null, empty string, empty array or empty object.
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(map) => !map.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Apply `op` to the candidate values; `ne` is the negation of `eq` over all candidates.
fn compare(
    candidates: &[&Value],
    op: CompareOp,
    value: &CompValue,
    case_exact: impl Fn() -> bool,
) -> bool {
    // Only ask the callback when a string comparison actually needs it.
    let exact = std::cell::OnceCell::new();
    let exact = || *exact.get_or_init(&case_exact);
    let any_eq = || match value {
        CompValue::Null => candidates.is_empty() || candidates.iter().any(|v| v.is_null()),
        _ => candidates.iter().any(|v| equals(v, value, &exact)),
    };
    match op {
        CompareOp::Eq => any_eq(),
        CompareOp::Ne => !any_eq(),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
            candidates.iter().any(|v| text_match(v, op, value, exact()))
        }
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            candidates.iter().any(|v| {
                let Some(ord) = order(v, value, &exact) else {
                    return false;
                };
                match op {
                    CompareOp::Gt => ord == Ordering::Greater,
                    CompareOp::Ge => ord != Ordering::Less,
                    CompareOp::Lt => ord == Ordering::Less,
                    _ => ord != Ordering::Greater,
                }
            })
        }
    }
}

/// `"True"`/`"false"` (any case) as a boolean.
fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A string holding a JSON number, as a number.
fn parse_num(s: &str) -> Option<f64> {
    let s = s.trim();
    if is_json_number(s) {
        s.parse().ok().filter(|n: &f64| n.is_finite())
    } else {
        None
    }
}

fn num_eq(a: f64, b: f64) -> bool {
    a.partial_cmp(&b) == Some(Ordering::Equal)
}

/// Case-insensitive string equality without allocating.
fn fold_eq(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// `eq` for one candidate. Strings holding booleans or numbers compare by value against JSON
/// booleans and numbers (and vice versa), since clients quote inconsistently.
fn equals(attr: &Value, value: &CompValue, exact: &dyn Fn() -> bool) -> bool {
    match (value, attr) {
        (CompValue::Str(s), Value::String(t)) => {
            if exact() {
                s == t
            } else {
                fold_eq(s, t)
            }
        }
        (CompValue::Str(s), Value::Bool(b)) => parse_bool(s) == Some(*b),
        (CompValue::Str(s), Value::Number(n)) => {
            matches!((parse_num(s), n.as_f64()), (Some(a), Some(b)) if num_eq(a, b))
        }
        (CompValue::Num(x, _), Value::Number(n)) => n.as_f64().is_some_and(|n| num_eq(n, *x)),
        (CompValue::Num(x, _), Value::String(t)) => parse_num(t).is_some_and(|n| num_eq(n, *x)),
        (CompValue::Bool(b), Value::Bool(c)) => b == c,
        (CompValue::Bool(b), Value::String(t)) => parse_bool(t) == Some(*b),
        (CompValue::Null, Value::Null) => true,
        _ => false,
    }
}

/// `co`/`sw`/`ew` for one candidate; numbers on either side are compared by their text.
fn text_match(attr: &Value, op: CompareOp, value: &CompValue, exact: bool) -> bool {
    let hay = match attr {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return false,
    };
    let needle = match value {
        CompValue::Str(s) => s.clone(),
        CompValue::Num(_, raw) => raw.clone(),
        CompValue::Bool(_) | CompValue::Null => return false,
    };
    let (hay, needle) = if exact {
        (hay, needle)
    } else {
        (hay.to_lowercase(), needle.to_lowercase())
    };
    match op {
        CompareOp::Co => hay.contains(&needle),
        CompareOp::Sw => hay.starts_with(&needle),
        _ => hay.ends_with(&needle),
    }
}

/// Ordering of the attribute relative to the value for `gt`/`ge`/`lt`/`le`; `None` when the
/// two are not comparable (booleans, null, objects, non-numeric text against a number).
fn order(attr: &Value, value: &CompValue, exact: &dyn Fn() -> bool) -> Option<Ordering> {
    match (value, attr) {
        (CompValue::Str(s), Value::String(t)) => Some(if exact() {
            t.as_str().cmp(s.as_str())
        } else {
            t.to_lowercase().cmp(&s.to_lowercase())
        }),
        (CompValue::Num(x, _), Value::Number(n)) => n.as_f64()?.partial_cmp(x),
        (CompValue::Str(s), Value::Number(n)) => n.as_f64()?.partial_cmp(&parse_num(s)?),
        (CompValue::Num(x, _), Value::String(t)) => parse_num(t)?.partial_cmp(x),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ap(name: &str) -> AttrPath {
        AttrPath::simple(name)
    }

    fn sub(name: &str, sub: &str) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.into(),
            sub: Some(sub.into()),
        }
    }

    fn cmp(path: AttrPath, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare { path, op, value }
    }

    fn s(v: &str) -> CompValue {
        CompValue::Str(v.into())
    }

    fn eq(name: &str, v: CompValue) -> Filter {
        cmp(ap(name), CompareOp::Eq, v)
    }

    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }

    fn vp(path: AttrPath, filter: Filter) -> Filter {
        Filter::ValuePath {
            path,
            filter: Box::new(filter),
        }
    }

    fn parse(input: &str) -> Filter {
        match parse_filter(input) {
            Ok(f) => f,
            Err(e) => panic!("{input:?} failed to parse: {e}"),
        }
    }

    fn parse_err(input: &str) -> FilterError {
        match parse_filter(input) {
            Ok(f) => panic!("{input:?} unexpectedly parsed as {f:?}"),
            Err(e) => e,
        }
    }

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    // ---- parsing: operators, keywords, precedence --------------------------------------------

    #[test]
    fn every_comparison_operator() {
        for (word, op) in [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("lt", CompareOp::Lt),
            ("ge", CompareOp::Ge),
            ("le", CompareOp::Le),
        ] {
            assert_eq!(
                parse(&format!("userName {word} \"x\"")),
                cmp(ap("userName"), op, s("x"))
            );
            assert_eq!(op.as_str(), word);
        }
        assert_eq!(parse("title pr"), Filter::Present(ap("title")));
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(parse("userName Eq \"john\""), eq("userName", s("john")));
        assert_eq!(
            parse("a EQ 1 AND b Pr OR NOT (c gE 2)"),
            or(
                and(
                    eq("a", CompValue::Num(1.0, "1".into())),
                    Filter::Present(ap("b"))
                ),
                not(cmp(ap("c"), CompareOp::Ge, CompValue::Num(2.0, "2".into())))
            )
        );
        assert_eq!(
            parse("a eq TRUE or b eq False or c eq NULL"),
            or(
                or(
                    eq("a", CompValue::Bool(true)),
                    eq("b", CompValue::Bool(false))
                ),
                eq("c", CompValue::Null)
            )
        );
    }

    #[test]
    fn precedence_and_associativity() {
        let (a, b, c) = (
            eq("a", CompValue::Num(1.0, "1".into())),
            eq("b", CompValue::Num(2.0, "2".into())),
            eq("c", CompValue::Num(3.0, "3".into())),
        );
        assert_eq!(
            parse("a eq 1 or b eq 2 and c eq 3"),
            or(a.clone(), and(b.clone(), c.clone()))
        );
        assert_eq!(
            parse("a eq 1 and b eq 2 or c eq 3"),
            or(and(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            parse("a eq 1 or b eq 2 or c eq 3"),
            or(or(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            parse("a eq 1 and b eq 2 and c eq 3"),
            and(and(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            parse("(a eq 1 or b eq 2) and c eq 3"),
            and(or(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            parse("a eq 1 and (b eq 2 or c eq 3)"),
            and(a.clone(), or(b.clone(), c.clone()))
        );
        // `not` binds tighter than `and`.
        assert_eq!(
            parse("not (a eq 1) and b eq 2"),
            and(not(a.clone()), b.clone())
        );
        assert_eq!(parse("((((a eq 1))))"), a);
    }

    #[test]
    fn not_forms() {
        let a = eq("a", CompValue::Num(1.0, "1".into()));
        assert_eq!(parse("not (a eq 1)"), not(a.clone()));
        assert_eq!(parse("not(a eq 1)"), not(a.clone()));
        assert_eq!(parse("not  \t(  a eq 1  )"), not(a.clone()));
        assert_eq!(parse("not (not (a eq 1))"), not(not(a.clone())));
        assert_eq!(
            parse("emails[not (type eq \"work\")]"),
            vp(ap("emails"), not(eq("type", s("work"))))
        );
    }

    // ---- RFC 7644 §3.4.2.2 examples -------------------------------------------------------

    #[test]
    fn rfc_examples() {
        assert_eq!(parse("userName Eq \"john\""), eq("userName", s("john")));
        assert_eq!(parse("title pr"), Filter::Present(ap("title")));
        assert_eq!(
            parse("meta.lastModified gt \"2011-05-13T04:42:34Z\""),
            cmp(
                sub("meta", "lastModified"),
                CompareOp::Gt,
                s("2011-05-13T04:42:34Z")
            )
        );
        assert_eq!(
            parse(&format!("{ENTERPRISE}:employeeNumber eq \"701984\"")),
            cmp(
                AttrPath {
                    urn: Some(ENTERPRISE.into()),
                    name: "employeeNumber".into(),
                    sub: None
                },
                CompareOp::Eq,
                s("701984")
            )
        );
        let emails_or = or(
            cmp(ap("emails"), CompareOp::Co, s("example.com")),
            cmp(sub("emails", "value"), CompareOp::Co, s("example.org")),
        );
        assert_eq!(
            parse(
                "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")"
            ),
            and(eq("userType", s("Employee")), emails_or.clone())
        );
        assert_eq!(
            parse(
                "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")"
            ),
            and(
                cmp(ap("userType"), CompareOp::Ne, s("Employee")),
                not(emails_or)
            )
        );
        assert_eq!(
            parse(
                "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and value co \"@foo.com\"]"
            ),
            or(
                vp(
                    ap("emails"),
                    and(
                        eq("type", s("work")),
                        cmp(ap("value"), CompareOp::Co, s("@example.com"))
                    )
                ),
                vp(
                    ap("ims"),
                    and(
                        eq("type", s("xmpp")),
                        cmp(ap("value"), CompareOp::Co, s("@foo.com"))
                    )
                )
            )
        );
        // The remaining RFC examples only need to parse.
        for input in [
            "name.familyName co \"O'Malley\"",
            "userName sw \"J\"",
            "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"",
            "meta.lastModified ge \"2011-05-13T04:42:34Z\"",
            "meta.lastModified lt \"2011-05-13T04:42:34Z\"",
            "meta.lastModified le \"2011-05-13T04:42:34Z\"",
            "title pr and userType eq \"Employee\"",
            "title pr or userType eq \"Intern\"",
            "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
            "userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]",
        ] {
            parse(input);
        }
    }

    // ---- attribute paths -------------------------------------------------------------------

    #[test]
    fn attribute_paths() {
        assert_eq!(
            parse("members.$ref pr"),
            Filter::Present(sub("members", "$ref"))
        );
        assert_eq!(parse("$ref pr"), Filter::Present(ap("$ref")));
        assert_eq!(parse("x_y-z9 pr"), Filter::Present(ap("x_y-z9")));
        assert_eq!(
            parse(&format!("{ENTERPRISE}:manager.value eq \"26118915\"")),
            cmp(
                AttrPath {
                    urn: Some(ENTERPRISE.into()),
                    name: "manager".into(),
                    sub: Some("value".into())
                },
                CompareOp::Eq,
                s("26118915")
            )
        );
        assert_eq!(
            parse(&format!("{CORE_USER}:name.givenName eq \"Barbara\"")),
            cmp(
                AttrPath {
                    urn: Some(CORE_USER.into()),
                    name: "name".into(),
                    sub: Some("givenName".into())
                },
                CompareOp::Eq,
                s("Barbara")
            )
        );
        // The `urn:` prefix is recognised case-insensitively.
        let f = parse("URN:acme:User:badge pr");
        assert_eq!(
            f,
            Filter::Present(AttrPath {
                urn: Some("URN:acme:User".into()),
                name: "badge".into(),
                sub: None
            })
        );
        assert_eq!(
            AttrPath {
                urn: Some(ENTERPRISE.into()),
                name: "manager".into(),
                sub: Some("value".into())
            }
            .to_string(),
            format!("{ENTERPRISE}:manager.value")
        );
    }

    // ---- values ---------------------------------------------------------------------------

    #[test]
    fn numbers() {
        for (text, n) in [
            ("0", 0.0),
            ("42", 42.0),
            ("-7", -7.0),
            ("3.25", 3.25),
            ("-0.5", -0.5),
            ("1e3", 1000.0),
            ("2.5E-2", 0.025),
            ("1e+2", 100.0),
        ] {
            assert_eq!(
                parse(&format!("x gt {text}")),
                cmp(ap("x"), CompareOp::Gt, CompValue::Num(n, text.to_string())),
                "{text}"
            );
        }
        // Not strict JSON numbers: kept as (unquoted) strings.
        for text in ["007", "1.", ".5", "1e", "+1", "0x10", "1e5f"] {
            assert_eq!(parse(&format!("x eq {text}")), eq("x", s(text)), "{text}");
        }
        assert!(parse_err("x eq 1e999").message.contains("out of range"));
    }

    #[test]
    fn string_escapes() {
        let cases = [
            (r#""a\"b""#, "a\"b"),
            (r#""a\\b""#, "a\\b"),
            (r#""a\/b""#, "a/b"),
            (r#""\n\r\t\b\f""#, "\n\r\t\u{8}\u{c}"),
            (r#""caf\u00e9""#, "café"),
            (r#""\u00E9""#, "é"),
            (r#""\ud83d\ude00""#, "😀"),
            (r#""x\uD834\uDD1Ey""#, "x𝄞y"),
            (r#""""#, ""),
            ("\"raw ünïcødé 😀\"", "raw ünïcødé 😀"),
            ("\"with ) and ] and ( inside\"", "with ) and ] and ( inside"),
            ("\"and or not\"", "and or not"),
        ];
        for (lit, want) in cases {
            assert_eq!(parse(&format!("x eq {lit}")), eq("x", s(want)), "{lit}");
        }
    }

    #[test]
    fn entra_unquoted_values() {
        assert_eq!(parse("externalId eq jyoung"), eq("externalId", s("jyoung")));
        assert_eq!(
            parse(
                "id eq 8c3a5f6e-1b2c-4d5e-9f00-aabbccddeeff and manager eq 0d8a1e2f-3344-5566-7788-99aabbccddee"
            ),
            and(
                eq("id", s("8c3a5f6e-1b2c-4d5e-9f00-aabbccddeeff")),
                eq("manager", s("0d8a1e2f-3344-5566-7788-99aabbccddee"))
            )
        );
        assert_eq!(parse("active eq True"), eq("active", CompValue::Bool(true)));
        assert_eq!(
            parse("(externalId eq jyoung)"),
            eq("externalId", s("jyoung"))
        );
        assert_eq!(
            parse("emails[type eq work]"),
            vp(ap("emails"), eq("type", s("work")))
        );
        assert_eq!(
            parse("userName eq jyoung@contoso.com"),
            eq("userName", s("jyoung@contoso.com"))
        );
        // A bare token runs up to whitespace, `)` or `]` and may contain other punctuation.
        assert_eq!(parse("x eq a\"b(c"), eq("x", s("a\"b(c")));
    }

    #[test]
    fn entra_value_path_with_sub_attribute() {
        let inner = eq("type", s("work"));
        assert_eq!(
            parse("emails[type eq \"work\"].value eq \"x@y\""),
            vp(ap("emails"), and(inner.clone(), eq("value", s("x@y"))))
        );
        assert_eq!(
            parse("emails[type eq \"work\"].value pr"),
            vp(
                ap("emails"),
                and(inner.clone(), Filter::Present(ap("value")))
            )
        );
        assert_eq!(
            parse("emails[type eq work].value eq x@y and active eq true"),
            and(
                vp(ap("emails"), and(inner.clone(), eq("value", s("x@y")))),
                eq("active", CompValue::Bool(true))
            )
        );
        assert_eq!(
            parse("addresses[type eq \"work\"].streetAddress sw \"1\""),
            vp(
                ap("addresses"),
                and(inner, cmp(ap("streetAddress"), CompareOp::Sw, s("1")))
            )
        );
    }

    #[test]
    fn whitespace_is_flexible() {
        let want = and(eq("userName", s("x")), Filter::Present(ap("title")));
        assert_eq!(parse("  userName   eq\t\"x\"\n  and  title pr  "), want);
        assert_eq!(parse("userName eq\"x\" and title pr"), want);
        assert_eq!(
            parse(" emails [ type eq \"work\" ] "),
            vp(ap("emails"), eq("type", s("work")))
        );
        assert_eq!(
            parse("(a eq 1)and(b eq 2)"),
            and(
                eq("a", CompValue::Num(1.0, "1".into())),
                eq("b", CompValue::Num(2.0, "2".into()))
            )
        );
    }

    // ---- errors -----------------------------------------------------------------------------

    #[test]
    fn syntax_errors() {
        for input in [
            "",
            "   \t\n",
            "userName xx \"a\"",
            "userName",
            "userName eq",
            "userName eq   ",
            "(userName eq )",
            "emails[type eq ]",
            "(a eq 1",
            "((a eq 1)",
            "a eq 1)",
            "a eq 1]",
            "a[b eq 1",
            "a[b eq 1)",
            "()",
            "[]",
            ")",
            "a eq 1 b eq 2",
            "a eq 1 and",
            "a eq 1 or",
            "and a eq 1",
            "a eq 1 and or b eq 2",
            "emails[x[y eq 1]]",
            "emails[type eq \"work\" and x[y eq 1]]",
            "title pr \"x\"",
            "title pr x",
            "title pr 1",
            "a eq \"unterminated",
            "a eq \"bad \\q escape\"",
            "a eq \"\\u12\"",
            "a eq \"\\uZZZZ\"",
            "a eq \"\\ud83d\"",
            "a eq \"\\ud83dx\"",
            "a eq \"\\ude00\"",
            "a eq \"\\ud83d\\u0041\"",
            "a eq \"\\",
            "not a eq 1",
            "not",
            "1abc eq 1",
            "a.b.c eq 1",
            "a. eq 1",
            ".a eq 1",
            "a:b eq 1",
            "$ pr",
            "name.familyName[value eq 1]",
            "emails[type eq \"work\"]. eq 1",
            "emails[type eq \"work\"].value",
            "emails[type eq \"work\"] eq 1",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User eq 1",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User: eq 1",
            "urn: eq 1",
            "a eq (b)",
            "a eq [b]",
        ] {
            let err = parse_err(input);
            assert!(err.offset <= input.len(), "{input:?}: {err}");
            assert!(!err.message.is_empty());
        }
    }

    #[test]
    fn error_messages_and_offsets() {
        let e = parse_err("userName xx \"a\"");
        assert_eq!(e.offset, 9);
        assert!(e.message.contains("unknown operator 'xx'"), "{e}");
        assert_eq!(e.to_string(), "unknown operator 'xx' (at byte 9)");

        let e = parse_err("title pr \"x\"");
        assert!(e.message.contains("'pr' does not take a value"), "{e}");
        assert_eq!(e.offset, 9);

        let e = parse_err("(a eq 1");
        assert!(e.message.contains("')'"), "{e}");
        assert_eq!(e.offset, 7);

        let e = parse_err("a eq \"abc");
        assert!(e.message.contains("unterminated"), "{e}");
        assert_eq!(e.offset, 5);

        let e = parse_err("a eq \"ab\\qc\"");
        assert!(e.message.contains("invalid escape"), "{e}");
        assert_eq!(e.offset, 8);

        let e = parse_err("userName eq");
        assert!(e.message.contains("missing value"), "{e}");

        let e = parse_err("emails[x[y eq 1]]");
        assert!(e.message.contains("nested"), "{e}");

        let e = parse_err("a eq 1 b eq 2");
        assert_eq!(e.offset, 7);

        let e = parse_err("");
        assert_eq!(e.message, "empty filter");
        let _: &dyn std::error::Error = &e;
    }

    #[test]
    fn depth_limit() {
        let nested = |n: usize| format!("{}a eq 1{}", "(".repeat(n), ")".repeat(n));
        parse(&nested(MAX_DEPTH));
        assert!(parse_err(&nested(MAX_DEPTH + 1))
            .message
            .contains("nested too deeply"));

        let nots = |n: usize| format!("{}a eq 1{}", "not (".repeat(n), ")".repeat(n));
        parse(&nots(MAX_DEPTH));
        assert!(parse_err(&nots(MAX_DEPTH + 1))
            .message
            .contains("nested too deeply"));

        // Brackets count towards the same limit.
        // `MAX_DEPTH - 1` parentheses, then `[` and `(`: one level too many.
        let bracketed = format!(
            "{}emails[(type eq 1)]{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(parse_err(&bracketed).message.contains("nested too deeply"));
    }

    #[test]
    fn hostile_nesting_errors_quickly() {
        let start = std::time::Instant::now();
        for input in [
            "(".repeat(100_000),
            "not (".repeat(100_000),
            "(".repeat(1 << 20),
            "a[".repeat(100_000),
            format!("{}a eq 1{}", "(".repeat(100_000), ")".repeat(100_000)),
        ] {
            let e = parse_err(&input);
            assert!(e.message.contains("nested"), "{e}");
        }
        // Long but flat input is rejected by the clause limit, not by recursion.
        let flat = vec!["a eq 1"; 100_000].join(" or ");
        assert!(parse_err(&flat).message.contains("too many"));
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn clause_limit() {
        let n = |k: usize| vec!["a eq 1"; k].join(" and ");
        parse(&n(MAX_CLAUSES));
        assert!(parse_err(&n(MAX_CLAUSES + 1)).message.contains("too many"));
        let presents = vec!["a pr"; MAX_CLAUSES + 1].join(" or ");
        assert!(parse_err(&presents).message.contains("too many"));
        // The Entra `.sub op value` tail counts as a clause too.
        let vps = vec!["emails[type eq 1].value eq 2"; MAX_CLAUSES / 2].join(" or ");
        parse(&vps);
        assert!(parse_err(&format!("{vps} or a pr"))
            .message
            .contains("too many"));
    }

    // ---- PATCH paths ------------------------------------------------------------------------

    #[test]
    fn patch_paths() {
        let p = |s: &str| match parse_path(s) {
            Ok(p) => p,
            Err(e) => panic!("{s:?}: {e}"),
        };
        assert_eq!(
            p("members"),
            PatchPath {
                attr: ap("members"),
                filter: None,
                sub: None
            }
        );
        assert_eq!(
            p("name.familyName"),
            PatchPath {
                attr: sub("name", "familyName"),
                filter: None,
                sub: None
            }
        );
        assert_eq!(
            p("emails[type eq \"work\"]"),
            PatchPath {
                attr: ap("emails"),
                filter: Some(eq("type", s("work"))),
                sub: None
            }
        );
        assert_eq!(
            p("emails[type eq \"work\"].value"),
            PatchPath {
                attr: ap("emails"),
                filter: Some(eq("type", s("work"))),
                sub: Some("value".into())
            }
        );
        assert_eq!(
            p("members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"),
            PatchPath {
                attr: ap("members"),
                filter: Some(eq("value", s("2819c223-7f76-453a-919d-413861904646"))),
                sub: None
            }
        );
        assert_eq!(
            p(&format!("{ENTERPRISE}:manager")),
            PatchPath {
                attr: AttrPath {
                    urn: Some(ENTERPRISE.into()),
                    name: "manager".into(),
                    sub: None
                },
                filter: None,
                sub: None
            }
        );
        assert_eq!(
            p(&format!("{ENTERPRISE}:manager.value")),
            PatchPath {
                attr: AttrPath {
                    urn: Some(ENTERPRISE.into()),
                    name: "manager".into(),
                    sub: Some("value".into())
                },
                filter: None,
                sub: None
            }
        );
        assert_eq!(
            p("addresses[type eq \"work\"].streetAddress"),
            PatchPath {
                attr: ap("addresses"),
                filter: Some(eq("type", s("work"))),
                sub: Some("streetAddress".into())
            }
        );
        assert_eq!(
            p("members[value eq \"a\" or value eq \"b\"]"),
            PatchPath {
                attr: ap("members"),
                filter: Some(or(eq("value", s("a")), eq("value", s("b")))),
                sub: None
            }
        );
        assert_eq!(p("  members  ").attr, ap("members"));
        assert_eq!(
            p("emails[type eq work]").filter,
            Some(eq("type", s("work")))
        );
    }

    #[test]
    fn patch_path_errors() {
        for input in [
            "",
            "  ",
            ENTERPRISE,
            "urn:ietf:params:scim:schemas:core:2.0:User",
            &format!("{ENTERPRISE}:"),
            "members foo",
            "members eq 1",
            "emails[type eq \"work\"]x",
            "emails[type eq \"work\"] .value",
            "emails[type eq \"work\"].value.x",
            "emails[type eq \"work\"",
            "emails[type eq \"work\"]]",
            "emails[x[y eq 1]]",
            "emails[]",
            "name.familyName.x",
            "name.familyName[value eq 1]",
            "[type eq 1]",
            "(members)",
            "1members",
        ] {
            if let Ok(p) = parse_path(input) {
                panic!("{input:?} unexpectedly parsed as {p:?}");
            }
        }
        let e = parse_path(ENTERPRISE).unwrap_err();
        assert!(e.message.contains("without an attribute name"), "{e}");
        let e = parse_path("members foo").unwrap_err();
        assert_eq!(e.offset, 8);
    }

    // ---- Display round trip -----------------------------------------------------------------

    #[test]
    fn display_round_trips() {
        for input in [
            "a eq 1 or b eq 2 and c eq 3",
            "(a eq 1 or b eq 2) and c eq 3",
            "a eq 1 and (b eq 2 and c eq 3)",
            "a eq 1 or (b eq 2 or c eq 3)",
            "not (a eq \"x\\\"y\\u00e9\") and b pr",
            "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\"]",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"x\"",
            "x ge -2.5 and y eq true and z eq null",
            "emails[type eq \"work\"].value eq \"x@y\"",
        ] {
            let f = parse(input);
            assert_eq!(parse(&f.to_string()), f, "{input} -> {f}");
        }
        assert_eq!(
            parse("a eq 1 or b eq 2 and c eq 3").to_string(),
            "a eq 1 or b eq 2 and c eq 3"
        );
        assert_eq!(
            parse("(a eq 1 or b eq 2) and c eq 3").to_string(),
            "(a eq 1 or b eq 2) and c eq 3"
        );
        // A long left-deep chain prints without parentheses, so it re-parses within MAX_DEPTH.
        let chain = parse(&vec!["a eq 1"; 100].join(" and "));
        assert_eq!(parse(&chain.to_string()), chain);
    }

    // ---- matches ----------------------------------------------------------------------------

    fn user() -> Value {
        json!({
            "schemas": [CORE_USER, ENTERPRISE],
            "id": "2819c223",
            "userName": "Bjensen@Example.com",
            "displayName": "Babs Jensen",
            "title": "",
            "nickName": null,
            "active": true,
            "age": 42,
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "meta": {"lastModified": "2011-05-13T04:42:34Z", "resourceType": "User"},
            "emails": [
                {"type": "work", "value": "bjensen@example.com", "primary": true},
                {"type": "home", "value": "babs@jensen.org"}
            ],
            "phoneNumbers": [],
            "roles": ["admin", "Editor"],
            "groups": [{"display": "no value here"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984",
                "costCenter": 4130,
                "manager": {"value": "26118915", "displayName": "John Smith"}
            }
        })
    }

    fn insensitive(_: &AttrPath) -> bool {
        false
    }

    fn sensitive(_: &AttrPath) -> bool {
        true
    }

    fn check(filter: &str, element: &Value) -> bool {
        matches(&parse(filter), element, &insensitive)
    }

    #[test]
    fn matches_eq_ne_and_case_sensitivity() {
        let u = user();
        assert!(check("userName eq \"bjensen@example.com\"", &u));
        assert!(check("USERNAME eq \"BJENSEN@EXAMPLE.COM\"", &u));
        assert!(!check("userName ne \"bjensen@example.com\"", &u));
        assert!(check("userName ne \"someone\"", &u));

        let f = parse("userName eq \"bjensen@example.com\"");
        assert!(!matches(&f, &u, &sensitive));
        let f = parse("userName eq \"Bjensen@Example.com\"");
        assert!(matches(&f, &u, &sensitive));

        // The callback is consulted per attribute.
        let only_username = |p: &AttrPath| p.name.eq_ignore_ascii_case("userName");
        let f = parse("userName eq \"bjensen@example.com\" or displayName eq \"babs jensen\"");
        assert!(matches(&f, &u, &only_username));
        let f = parse("userName eq \"bjensen@example.com\"");
        assert!(!matches(&f, &u, &only_username));

        // Non-ASCII case folding.
        let e = json!({"displayName": "ÉLODIE"});
        assert!(check("displayName eq \"élodie\"", &e));
        assert!(check("displayName sw \"él\"", &e));
    }

    #[test]
    fn matches_substring_operators() {
        let u = user();
        assert!(check("displayName co \"S JEN\"", &u));
        assert!(check("displayName sw \"babs\"", &u));
        assert!(check("displayName ew \"JENSEN\"", &u));
        assert!(!check("displayName sw \"Jensen\"", &u));
        assert!(!check("displayName ew \"Babs\"", &u));
        let f = parse("displayName co \"babs\"");
        assert!(!matches(&f, &u, &sensitive));
        let f = parse("displayName co \"Babs\"");
        assert!(matches(&f, &u, &sensitive));
        // Substring operators never match booleans.
        assert!(!check("active co \"tr\"", &u));
        // Numbers are matched by their text.
        assert!(check("age sw 4", &u));
        assert!(check(&format!("{ENTERPRISE}:employeeNumber sw 70"), &u));
    }

    #[test]
    fn matches_ordering_operators() {
        let u = user();
        assert!(check("meta.lastModified gt \"2011-05-13T04:42:33Z\"", &u));
        assert!(!check("meta.lastModified gt \"2011-05-13T04:42:34Z\"", &u));
        assert!(check("meta.lastModified ge \"2011-05-13T04:42:34Z\"", &u));
        assert!(check("meta.lastModified lt \"2012-01-01T00:00:00Z\"", &u));
        assert!(check("meta.lastModified le \"2011-05-13T04:42:34Z\"", &u));
        assert!(!check("meta.lastModified lt \"2011-05-13T04:42:34Z\"", &u));

        assert!(check("age gt 41", &u));
        assert!(check("age ge 42", &u));
        assert!(check("age le 42.0", &u));
        assert!(!check("age lt 42", &u));
        // Numerically, not lexicographically: 42 > 100 would be true as text.
        assert!(!check("age gt 100", &u));
        assert!(check("age gt \"9\"", &u));

        // Lexicographic on strings, case-folded unless case-exact.
        assert!(check("displayName gt \"BABS\"", &u));
        let f = parse("displayName gt \"a\"");
        assert!(check("displayName gt \"a\"", &u));
        assert!(!matches(&f, &u, &sensitive)); // 'B' < 'a' in code points

        // Booleans never order.
        for op in ["gt", "ge", "lt", "le"] {
            assert!(!check(&format!("active {op} false"), &u));
            assert!(!check(&format!("active {op} true"), &u));
        }
    }

    #[test]
    fn matches_booleans_numbers_and_null() {
        let u = user();
        assert!(check("active eq true", &u));
        assert!(!check("active eq false", &u));
        assert!(check("active ne false", &u));
        assert!(check("active eq \"True\"", &u));
        assert!(check("active eq TRUE", &u));
        assert!(!check("active eq \"yes\"", &u));
        let e = json!({"active": "False"});
        assert!(check("active eq false", &e));

        assert!(check("age eq 42", &u));
        assert!(check("age eq 42.0", &u));
        assert!(check("age eq \"42\"", &u));
        assert!(!check("age eq 43", &u));
        assert!(check(&format!("{ENTERPRISE}:employeeNumber eq 701984"), &u));
        assert!(check(&format!("{ENTERPRISE}:costCenter eq 4130"), &u));

        assert!(check("nickName eq null", &u));
        assert!(check("doesNotExist eq null", &u));
        assert!(!check("userName eq null", &u));
        assert!(check("userName ne null", &u));
        assert!(!check("nickName ne null", &u));
        assert!(check("groups.value eq null", &u));
    }

    #[test]
    fn matches_present() {
        let u = user();
        assert!(check("userName pr", &u));
        assert!(check("active pr", &u));
        assert!(check("age pr", &u));
        assert!(check("name pr", &u));
        assert!(check("emails pr", &u));
        assert!(check("emails.type pr", &u));
        assert!(check("groups pr", &u));
        assert!(!check("groups.value pr", &u));
        assert!(!check("title pr", &u)); // empty string
        assert!(!check("nickName pr", &u)); // null
        assert!(!check("phoneNumbers pr", &u)); // empty array
        assert!(!check("missing pr", &u));
        assert!(!check("x pr", &json!({"x": {}})));
        assert!(!check("x pr", &json!({"x": [null, ""]})));
        assert!(check("not (title pr)", &u));
    }

    #[test]
    fn matches_multi_valued_and_sub_attributes() {
        let u = user();
        // Without a sub-attribute, elements of a complex array are compared by `value`.
        assert!(check("emails co \"example.com\"", &u));
        assert!(check("emails eq \"babs@jensen.org\"", &u));
        assert!(check("emails.value ew \".org\"", &u));
        assert!(check("emails.type eq \"home\"", &u));
        assert!(!check("emails.type eq \"other\"", &u));
        assert!(check("emails.primary eq true", &u));
        // `ne` is the negation of `eq` over all elements.
        assert!(!check("emails.type ne \"home\"", &u));
        // Arrays of scalars.
        assert!(check("roles eq \"editor\"", &u));
        assert!(!check("roles eq \"viewer\"", &u));
        assert!(check("name.familyName eq \"jensen\"", &u));
        assert!(check("NAME.FAMILYNAME eq \"jensen\"", &u));
        assert!(check(
            "userType eq \"Employee\" or (emails co \"example.com\" or emails.value co \"example.org\")",
            &u
        ));
        assert!(!check(
            "userName pr and not (emails co \"example.com\" or emails.value co \"example.org\")",
            &u
        ));
    }

    #[test]
    fn matches_urn_qualified_paths() {
        let u = user();
        assert!(check(
            &format!("{ENTERPRISE}:employeeNumber eq \"701984\""),
            &u
        ));
        assert!(check(
            &format!("{}:employeenumber eq \"701984\"", ENTERPRISE.to_uppercase()),
            &u
        ));
        assert!(check(
            &format!("{ENTERPRISE}:manager.value eq \"26118915\""),
            &u
        ));
        assert!(check(&format!("{ENTERPRISE}:manager pr"), &u));
        // Core attributes live at the top level even when URN-qualified.
        assert!(check(
            &format!("{CORE_USER}:name.givenName eq \"barbara\""),
            &u
        ));
        assert!(check(&format!("{CORE_USER}:userName sw \"bj\""), &u));
        // An extension attribute is not found at the top level under its bare name.
        assert!(!check("employeeNumber pr", &u));
    }

    #[test]
    fn matches_value_paths() {
        let u = user();
        assert!(check(
            "emails[type eq \"work\" and value co \"@example.com\"]",
            &u
        ));
        // Both conditions must hold for the same element.
        assert!(!check(
            "emails[type eq \"home\" and value co \"@example.com\"]",
            &u
        ));
        assert!(check(
            "emails[type eq \"work\"].value eq \"BJENSEN@example.com\"",
            &u
        ));
        assert!(!check(
            "emails[type eq \"home\"].value eq \"bjensen@example.com\"",
            &u
        ));
        assert!(check("emails[primary eq true]", &u));
        assert!(check("emails[not (type eq \"work\")]", &u));
        assert!(!check("phoneNumbers[type eq \"work\"]", &u));
        assert!(!check("missing[type eq \"work\"]", &u));
        // A single complex value can be filtered too.
        assert!(check("name[familyName eq \"Jensen\"]", &u));
        assert!(check(
            &format!("{ENTERPRISE}:manager[displayName sw \"john\"]"),
            &u
        ));

        // The callback sees inner paths qualified with the outer attribute.
        let seen = std::cell::RefCell::new(Vec::new());
        let record = |p: &AttrPath| {
            seen.borrow_mut().push(p.to_string());
            p.sub.as_deref() == Some("value")
        };
        let f = parse("emails[type eq \"WORK\" and value eq \"BJENSEN@EXAMPLE.COM\"]");
        assert!(!matches(&f, &u, &record));
        assert!(seen.borrow().iter().any(|p| p == "emails.type"));
        assert!(seen.borrow().iter().any(|p| p == "emails.value"));
    }

    #[test]
    fn matches_single_element_for_patch() {
        // PATCH evaluates a PatchPath's filter against each element of the attribute.
        let path = parse_path("emails[type eq \"work\" and value ew \"@example.com\"]").unwrap();
        let filter = path.filter.unwrap();
        let work = json!({"type": "Work", "value": "a@EXAMPLE.com"});
        let home = json!({"type": "home", "value": "a@example.com"});
        assert!(matches(&filter, &work, &insensitive));
        assert!(!matches(&filter, &home, &insensitive));
        assert!(!matches(&filter, &work, &sensitive));
        // Key lookup is case-insensitive.
        let odd_keys = json!({"TYPE": "work", "Value": "b@example.com"});
        assert!(matches(&filter, &odd_keys, &insensitive));
        // Non-objects never match an attribute expression.
        assert!(!matches(&filter, &json!("work"), &insensitive));
        assert!(!matches(&filter, &Value::Null, &insensitive));
    }
}
