//! Resource indicators (RFC 8707): the APIs a client names with `resource`
//! so that its access token's `aud` is those APIs and nothing wider. Read at
//! the authorization and device endpoints (what the grant may cover) and at
//! the token endpoint for every grant (what this access token covers).

use super::clients::{check_resource_uri, Client};
use super::form::Params;
use super::Error;

/// At most this many resources in one request.
pub const MAX_RESOURCES: usize = 16;

/// The `resource` values of a request, each an absolute URI without a
/// fragment (RFC 8707 §2), duplicates dropped.
pub fn requested(params: &Params) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for value in params.all("resource") {
        if check_resource_uri(value).is_err() {
            return Err(Error::invalid_target(
                "resource must be an absolute URI without a fragment",
            ));
        }
        if !out.iter().any(|r| r == value) {
            out.push(value.to_owned());
        }
    }
    if out.len() > MAX_RESOURCES {
        return Err(Error::invalid_target("too many resources"));
    }
    Ok(out)
}

/// `asked`, if every resource in it is registered for the client.
pub fn registered(asked: Vec<String>, client: &Client) -> Result<Vec<String>, Error> {
    within(&asked, &client.resources)?;
    Ok(asked)
}

/// The resources this access token is for: those asked for at the token
/// endpoint, within what the grant covers (the resources the grant was made
/// for, or the client's registered ones when it named none); when none are
/// asked, all the grant's. Checked before any code or refresh token is
/// spent, so a wrong `resource` costs the client nothing.
pub fn target(asked: &[String], granted: &[String], client: &Client) -> Result<Vec<String>, Error> {
    if asked.is_empty() {
        return Ok(granted.to_vec());
    }
    let bound = if granted.is_empty() {
        &client.resources
    } else {
        granted
    };
    within(asked, bound)?;
    Ok(asked.to_vec())
}

fn within(asked: &[String], allowed: &[String]) -> Result<(), Error> {
    match asked.iter().find(|r| !allowed.contains(r)) {
        None => Ok(()),
        Some(_) => Err(Error::invalid_target(
            "a requested resource is not registered for this client",
        )),
    }
}

/// A space-separated column back into a list.
pub fn from_stored(column: &str) -> Vec<String> {
    column.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningAlg;
    use crate::oauth::clients::GrantType;
    use crate::oauth::{ErrorCode, Scope};

    fn client(resources: &[&str]) -> Client {
        let mut c = Client::for_tests(
            "c",
            false,
            vec![GrantType::ClientCredentials],
            vec![],
            Scope::parse("a").unwrap(),
            SigningAlg::Es256,
            false,
        );
        c.resources = resources.iter().map(|r| r.to_string()).collect();
        c
    }

    fn params(values: &[&str]) -> Params {
        values
            .iter()
            .map(|v| ("resource".to_owned(), v.to_string()))
            .collect::<Vec<_>>()
            .into()
    }

    #[test]
    fn resources_are_absolute_uris_without_fragments() {
        assert_eq!(
            requested(&params(&[
                "https://a.example/",
                "https://a.example/",
                "urn:x:api"
            ]))
            .unwrap(),
            vec!["https://a.example/", "urn:x:api"]
        );
        for bad in ["/relative", "https://a.example/#f", "not a uri", "urn:x#y"] {
            let err = requested(&params(&[bad])).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidTarget, "{bad}");
        }
    }

    #[test]
    fn a_token_request_narrows_within_the_grant() {
        let c = client(&[
            "https://a.example",
            "https://b.example",
            "https://c.example",
        ]);
        let granted = vec![
            "https://a.example".to_owned(),
            "https://b.example".to_owned(),
        ];
        let b = vec!["https://b.example".to_owned()];
        assert_eq!(target(&[], &granted, &c).unwrap(), granted);
        assert_eq!(target(&b, &granted, &c).unwrap(), b);
        let c_only = vec!["https://c.example".to_owned()];
        assert_eq!(
            target(&c_only, &granted, &c).unwrap_err().code,
            ErrorCode::InvalidTarget
        );
        // A grant that named none is bounded by the client's registration.
        assert_eq!(target(&c_only, &[], &c).unwrap(), c_only);
        let unknown = vec!["https://d.example".to_owned()];
        assert_eq!(
            target(&unknown, &[], &c).unwrap_err().code,
            ErrorCode::InvalidTarget
        );
        assert!(target(&[], &[], &c).unwrap().is_empty());
    }
}
