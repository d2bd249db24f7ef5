//! Text helpers shared by the header and URI parsers: zero-copy sub-strings,
//! linear white space, top-level splitting and generic parameters.

use std::fmt;

use bytestring::ByteString;

/// A shared, immutable UTF-8 string: a slice of the received message
/// (zero-copy) or an owned string. Cloning is a reference-count bump.
pub type SipStr = ByteString;

/// `s` as a [`SipStr`] that shares `parent`'s buffer when `s` lies inside
/// it, or a copy otherwise. Never panics.
pub(crate) fn sub(parent: &SipStr, s: &str) -> SipStr {
    let p = parent.as_bytes().as_ptr() as usize;
    let q = s.as_ptr() as usize;
    if q >= p && q + s.len() <= p + parent.len() {
        parent.slice_ref(s)
    } else {
        SipStr::from(s)
    }
}

/// Whether `b` is linear white space (SP, HTAB, CR, LF: CR/LF only occur
/// inside folded header values).
pub(crate) fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// `s` without leading and trailing linear white space.
pub(crate) fn trim_lws(s: &str) -> &str {
    let b = s.as_bytes();
    let mut start = 0;
    let mut end = b.len();
    while start < end && b.get(start).is_some_and(|c| is_lws(*c)) {
        start += 1;
    }
    while end > start && b.get(end - 1).is_some_and(|c| is_lws(*c)) {
        end -= 1;
    }
    // Only ASCII bytes were skipped, so both ends are char boundaries.
    s.get(start..end).unwrap_or("")
}

/// Whether `b` is an RFC 3261 `token` character.
pub(crate) fn is_token_char(b: u8) -> bool {
    TOKEN_TABLE.get(usize::from(b)).copied().unwrap_or(false)
}

/// RFC 3261 `token` characters, as a lookup table.
#[allow(clippy::indexing_slicing)] // i < 256 on a 256-entry array, at compile time
static TOKEN_TABLE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

/// Whether `s` is a non-empty RFC 3261 `token`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// Splits `s` at every top-level `sep`: separators inside double quotes
/// (with backslash escapes) or inside `<...>` do not count. Pieces are
/// trimmed of linear white space; empty pieces are skipped.
pub(crate) fn split_top_level(s: &str, sep: u8) -> SplitTopLevel<'_> {
    SplitTopLevel { rest: s, sep }
}

/// Iterator returned by [`split_top_level`].
pub(crate) struct SplitTopLevel<'a> {
    rest: &'a str,
    sep: u8,
}

impl<'a> Iterator for SplitTopLevel<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let end = find_top_level(self.rest, self.sep).unwrap_or(self.rest.len());
            let (piece, rest) = self.rest.split_at_checked(end)?;
            self.rest = rest.get(1..).unwrap_or("");
            let piece = trim_lws(piece);
            if !piece.is_empty() {
                return Some(piece);
            }
        }
    }
}

/// Byte offset of the first top-level `sep` in `s`.
pub(crate) fn find_top_level(s: &str, sep: u8) -> Option<usize> {
    let mut in_quotes = false;
    let mut in_angle = false;
    let mut escaped = false;
    for (i, b) in s.bytes().enumerate() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_quotes = false;
            }
            continue;
        }
        match b {
            b'"' => in_quotes = true,
            b'<' => in_angle = true,
            b'>' => in_angle = false,
            _ if b == sep && !in_angle => return Some(i),
            _ => {}
        }
    }
    None
}

/// One `;name[=value]` parameter (of a header, or of a URI).
#[derive(Clone, PartialEq, Eq)]
pub struct Param {
    /// Parameter name as received (compare case-insensitively).
    pub name: SipStr,
    /// Value, if any, as received (quotes kept).
    pub value: Option<SipStr>,
}

impl fmt::Debug for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={}", self.name, v),
            None => write!(f, "{}", self.name),
        }
    }
}

/// An ordered list of `;name[=value]` parameters.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params {
    list: Vec<Param>,
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.list).finish()
    }
}

impl Params {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `;a=b;c;d="x;y"`-style text (a leading `;` is optional) taking
    /// sub-strings of `parent` where possible. Fails on an empty or
    /// non-token name.
    pub(crate) fn parse(parent: &SipStr, s: &str) -> Result<Self, &'static str> {
        let s = trim_lws(s);
        let s = s.strip_prefix(';').unwrap_or(s);
        if trim_lws(s).is_empty() {
            return Ok(Self { list: Vec::new() });
        }
        let mut list = Vec::new();
        let mut rest = s;
        loop {
            let end = find_top_level(rest, b';').unwrap_or(rest.len());
            let (piece, tail) = rest.split_at_checked(end).ok_or("bad parameter")?;
            let piece = trim_lws(piece);
            if piece.is_empty() {
                // `;;` or a trailing `;`: RFC 3261 has no empty parameters.
                return Err("empty parameter");
            }
            let (name, value) = match find_top_level(piece, b'=') {
                Some(eq) => {
                    let (n, v) = piece.split_at_checked(eq).ok_or("bad parameter")?;
                    (trim_lws(n), Some(trim_lws(v.get(1..).unwrap_or(""))))
                }
                None => (piece, None),
            };
            if !is_token(name) {
                return Err("bad parameter name");
            }
            if value.is_some_and(str::is_empty) {
                return Err("empty parameter value");
            }
            list.push(Param {
                name: sub(parent, name),
                value: value.map(|v| sub(parent, v)),
            });
            match tail.strip_prefix(';') {
                Some(t) => rest = t,
                None => break,
            }
        }
        Ok(Self { list })
    }

    /// The parameters in order.
    pub fn iter(&self) -> impl Iterator<Item = &Param> {
        self.list.iter()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The parameter named `name` (case-insensitive).
    pub fn find(&self, name: &str) -> Option<&Param> {
        self.list.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Whether a parameter named `name` is present (with or without value).
    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The value of `name`, unquoted if it was a quoted string. `None` if
    /// absent or valueless.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name)
            .and_then(|p| p.value.as_deref())
            .map(unquote)
    }

    /// Sets `name` to `value` (`None`: a flag), replacing an existing one.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(SipStr::from);
        if let Some(p) = self
            .list
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name))
        {
            p.value = value;
        } else {
            self.list.push(Param {
                name: SipStr::from(name),
                value,
            });
        }
    }

    /// Removes `name`; returns whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.list.len();
        self.list.retain(|p| !p.name.eq_ignore_ascii_case(name));
        before != self.list.len()
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.list {
            match &p.value {
                Some(v) => write!(f, ";{}={}", p.name, v)?,
                None => write!(f, ";{}", p.name)?,
            }
        }
        Ok(())
    }
}

/// `s` without surrounding double quotes (escapes are left as they are).
pub(crate) fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

/// `s` as a quoted-string, escaping `"` and `\`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Decodes `%XX` escapes; `None` if an escape is malformed or the result is
/// not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|c| (*c as char).to_digit(16))?;
            let lo = bytes.get(i + 2).and_then(|c| (*c as char).to_digit(16))?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_quotes_and_angles() {
        let v: Vec<_> =
            split_top_level(r#""a,b" <sip:x@y;p=1,2>, <sip:z>;q=0.5 ,"#, b',').collect();
        assert_eq!(v, vec![r#""a,b" <sip:x@y;p=1,2>"#, "<sip:z>;q=0.5"]);
        let v: Vec<_> = split_top_level(r#""a\",b", c"#, b',').collect();
        assert_eq!(v, vec![r#""a\",b""#, "c"]);
    }

    #[test]
    fn params_parse_get_set() {
        let s = SipStr::from(";branch=z9hG4bK1;rport;received=\"1.2.3.4\"");
        let mut p = Params::parse(&s, &s).unwrap();
        assert_eq!(p.get("BRANCH"), Some("z9hG4bK1"));
        assert!(p.contains("rport"));
        assert_eq!(p.get("rport"), None);
        assert_eq!(p.get("received"), Some("1.2.3.4"));
        p.set("rport", Some("5060"));
        assert_eq!(
            p.to_string(),
            ";branch=z9hG4bK1;rport=5060;received=\"1.2.3.4\""
        );
        assert!(Params::parse(&s, ";=x").is_err());
        assert!(Params::parse(&s, ";a=").is_err());
    }

    #[test]
    fn percent() {
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%zz"), None);
    }
}
