//! A strict `application/x-www-form-urlencoded` parser (for bodies and query
//! strings). Lenient parsers turn bad percent-encoding into literal text and
//! bad UTF-8 into U+FFFD; here both are `invalid_request`, so what a client
//! meant and what we read cannot differ.

use super::Error;

/// At most this many parameters in one request.
pub const MAX_PARAMS: usize = 64;

pub fn parse(input: &[u8]) -> Result<Vec<(String, String)>, Error> {
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
    Ok(out)
}

/// RFC 6749 §3.1/§3.2: a parameter may appear once; and none may be longer
/// than `max_len` bytes.
pub fn check_params(params: &[(String, String)], max_len: usize) -> Result<(), Error> {
    for (i, (name, value)) in params.iter().enumerate() {
        let shown: String = name.chars().take(40).collect();
        if params[..i].iter().any(|(n, _)| n == name) {
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
    let bad_escape = || Error::invalid_request("malformed percent-encoding");
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hi = raw
                    .get(i + 1)
                    .and_then(|b| (*b as char).to_digit(16))
                    .ok_or_else(bad_escape)?;
                let lo = raw
                    .get(i + 2)
                    .and_then(|b| (*b as char).to_digit(16))
                    .ok_or_else(bad_escape)?;
                bytes.push((hi * 16 + lo) as u8);
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
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
            parse(b"a=1&b=x+y%21&c=&d").unwrap(),
            pairs(&[("a", "1"), ("b", "x y!"), ("c", ""), ("d", "")])
        );
        assert_eq!(
            parse(b"name=%C3%A9t%C3%A9").unwrap(),
            pairs(&[("name", "été")])
        );
        assert_eq!(parse(b"").unwrap(), pairs(&[]));
        assert_eq!(
            parse(b"a=1&&b=2").unwrap(),
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
    fn caps_the_number_of_parameters() {
        let many = vec!["a=1"; MAX_PARAMS + 1].join("&");
        assert!(parse(many.as_bytes()).is_err());
    }
}
