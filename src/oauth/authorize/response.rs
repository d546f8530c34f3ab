//! The redirects back to the client (RFC 6749 §4.1.2 and §4.1.2.1, with
//! `iss` per RFC 9207). `response_mode=form_post` or JARM would go here.

use crate::oauth::Error;

/// `base` with `params` added to its query (absent values skipped).
pub fn redirect_url(base: &str, params: &[(&str, Option<&str>)]) -> String {
    match url::Url::parse(base) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (name, value) in params {
                    if let Some(v) = value {
                        query.append_pair(name, v);
                    }
                }
            }
            url.to_string()
        }
        // Registered redirect URIs were parsed at registration; keep the base.
        Err(_) => base.to_owned(),
    }
}

/// The error redirect of RFC 6749 §4.1.2.1, with `iss` (RFC 9207).
pub fn error_redirect(
    redirect_uri: &str,
    state: Option<&str>,
    error: &Error,
    issuer: &str,
) -> String {
    redirect_url(
        redirect_uri,
        &[
            ("error", Some(error.code.as_str())),
            ("error_description", error.description.as_deref()),
            ("state", state),
            ("iss", Some(issuer)),
        ],
    )
}

/// The success redirect of RFC 6749 §4.1.2, with `iss` (RFC 9207).
pub fn code_redirect(redirect_uri: &str, code: &str, state: Option<&str>, issuer: &str) -> String {
    redirect_url(
        redirect_uri,
        &[
            ("code", Some(code)),
            ("state", state),
            ("iss", Some(issuer)),
        ],
    )
}
