//! A strict `application/x-www-form-urlencoded` parser (for bodies and query
//! strings). Lenient parsers turn bad percent-encoding into literal text and
//! bad UTF-8 into U+FFFD; here both are `invalid_request`, so what a client
//! meant and what we read cannot differ.

use super::Error;

/// At most this many parameters in one request.
pub const MAX_PARAMS: usize = 64;

/// The parameters a request may repeat: `resource` (RFC 8707 §2) and
/// token exchange's `audience` (RFC 8693 §2.1). Every other parameter may
/// appear once (RFC 6749 §3.1, §3.2).
pub const REPEATABLE: [&str; 2] = ["resource", "audience"];

/// Decoded parameters of one request, in the order sent, and the one way
/// to read them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

/// A parameter that was sent more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeated;

impl Params {
    /// The value of a parameter given exactly once; `None` when absent,
    /// empty or repeated. After [`Params::check`] nothing is repeated.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.single(name).ok().flatten()
    }

    /// The value of a parameter, telling a repeated one apart (the
    /// authorization endpoint answers it differently from a missing one).
    pub fn single(&self, name: &str) -> Result<Option<&str>, Repeated> {
        let mut found = self
            .0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str());
        let first = found.next();
        if found.next().is_some() {
            return Err(Repeated);
        }
        Ok(first.filter(|v| !v.is_empty()))
    }

    /// Every non-empty value of a repeatable parameter, in the order sent.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter that must be there.
    pub fn required(&self, name: &'static str) -> Result<&str, Error> {
        self.get(name)
            .ok_or_else(|| Error::invalid_request(format!("missing parameter `{name}`")))
    }

    /// RFC 6749 §3.1/§3.2: a parameter may appear once; and none may be
    /// longer than `max_len` bytes.
    pub fn check(&self, max_len: usize) -> Result<(), Error> {
        check_params(&self.0, max_len)
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.0
    }
}

impl From<Vec<(String, String)>> for Params {
    fn from(pairs: Vec<(String, String)>) -> Self {
        Params(pairs)
    }
}

pub fn parse(input: &[u8]) -> Result<Params, Error> {
    let mut out = Vec::new();
    for pair in input.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        if out.len() == MAX_PARAMS {
            return Err(Error::invalid_request("too many parameters"));
        }
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        out.push((decode(name)?, decode(value)?));
    }
    Ok(Params(out))
}

fn check_params(params: &[(String, String)], max_len: usize) -> Result<(), Error> {
    for (i, (name, value)) in params.iter().enumerate() {
        let shown: String = name.chars().take(40).collect();
        if !REPEATABLE.contains(&name.as_str()) && params[..i].iter().any(|(n, _)| n == name) {
            return Err(Error::invalid_request(format!(
                "parameter `{shown}` is repeated"
            )));
        }
        if value.len() > max_len {
            return Err(Error::invalid_request(format!(
                "parameter `{shown}` is too long"
            )));
        }
    }
    Ok(())
}

fn decode(raw: &[u8]) -> Result<String, Error> {
    let bytes = percent_decode(raw, true)
        .ok_or_else(|| Error::invalid_request("malformed percent-encoding"))?;
    let text =
        String::from_utf8(bytes).map_err(|_| Error::invalid_request("parameters must be UTF-8"))?;
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(Error::invalid_request(
            "parameters must not contain control characters",
        ));
    }
    Ok(text)
}

/// Percent-decoding (RFC 3986 §2.1), with `+` as a space where forms say so.
/// `None` for a malformed escape. The one decoder: form bodies, query
/// strings and HTTP Basic credentials (RFC 6749 §2.3.1) all use it.
pub fn percent_decode(raw: &[u8], plus_is_space: bool) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' if plus_is_space => bytes.push(b' '),
            b'%' => {
                let hi = raw.get(i + 1).and_then(|b| (*b as char).to_digit(16))?;
                let lo = raw.get(i + 2).and_then(|b| (*b as char).to_digit(16))?;
                bytes.push((hi * 16 + lo) as u8);
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn decodes_forms() {
        assert_eq!(
            parse(b"a=1&b=x+y%21&c=&d").unwrap().into_pairs(),
            pairs(&[("a", "1"), ("b", "x y!"), ("c", ""), ("d", "")])
        );
        assert_eq!(
            parse(b"name=%C3%A9t%C3%A9").unwrap().into_pairs(),
            pairs(&[("name", "été")])
        );
        assert_eq!(parse(b"").unwrap().into_pairs(), pairs(&[]));
        assert_eq!(
            parse(b"a=1&&b=2").unwrap().into_pairs(),
            pairs(&[("a", "1"), ("b", "2")])
        );
    }

    #[test]
    fn refuses_bad_escapes_utf8_and_controls() {
        for bad in [
            &b"a=%zz"[..],
            b"a=%4",
            b"a=%",
            b"a=%FF",
            b"a=\xff",
            b"a=%00",
            b"%C3=1",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn reads_a_parameter_once_and_tells_a_repeated_one() {
        let params = parse(b"a=1&b=&c=2&c=3").unwrap();
        assert_eq!(params.get("a"), Some("1"));
        assert_eq!(params.get("b"), None, "empty is absent");
        assert_eq!(params.get("c"), None);
        assert_eq!(params.single("c"), Err(Repeated));
        assert_eq!(params.single("z"), Ok(None));
        assert!(params.required("z").is_err());
        assert!(params.check(10).is_err(), "c is repeated");
    }

    #[test]
    fn caps_the_number_of_parameters() {
        let many = vec!["a=1"; MAX_PARAMS + 1].join("&");
        assert!(parse(many.as_bytes()).is_err());
    }
}
