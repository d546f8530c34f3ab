//! Integration tests: each starts the real server on port 0 with a fresh
//! database (a temporary SQLite file, or a fresh PostgreSQL database when
//! PORTCULLIS_TEST_POSTGRES_URL is set), then talks to it as clients and
//! relying parties would.
//!
//! What the tests share is in [`helpers`] (the server, the browser, the
//! typed token response, the multi-process cluster); no test file imports
//! from another. The tests, by what they exercise:
//!
//! - the token endpoint: [`token`] (grants and what their tokens carry),
//!   [`refresh`] (rotation and reuse), [`errors`] (RFC 6749 error answers),
//!   [`resources`] (RFC 8707 resource indicators), [`token_exchange`]
//!   (RFC 8693), [`device`] (the RFC 8628 device grant and its pages),
//!   [`dpop`] (RFC 9449 proofs and bound tokens, also at the resources);
//! - the browser flow: [`authorize`] (the code flow, prompts, redirects,
//!   the login form, consent), [`userinfo`] (and the claims parameter),
//!   [`logout`], [`account`] (the person's own page), [`par`] (pushed authorization requests, RFC 9126), and
//!   [`browser`] (a real Chromium);
//! - client authentication: [`client_assertion`] (`private_key_jwt`, and
//!   fetching a client's `jwks_uri`);
//! - other endpoints: [`introspection`], [`revocation`], [`discovery`],
//!   [`registration`] (dynamic client registration and management),
//!   [`fapi`] (the FAPI 2.0 registration rules),
//!   [`admin`] (the admin API and the audit trail), [`ops`] (health,
//!   readiness, metrics);
//! - defences: [`brute_force`] (lock-out, slow-down, rate limits),
//!   [`input_limits`] (malformed and junk requests);
//! - keys and storage: [`keys`] (rotation, revocation, sealing),
//!   [`migrations`], [`corrupt_data`] (stored data Portcullis could not
//!   have written);
//! - domain events: [`events`] (a session ending);
//! - the binary as operators run it: [`cli`], [`replicas`] (several
//!   processes on one database), [`process`] (logs, SIGTERM, a database
//!   outage).

mod account;
mod admin;
mod authorize;
mod browser;
mod browser_factors;
mod brute_force;
mod cli;
mod client_assertion;
mod corrupt_data;
mod device;
mod discovery;
mod dpop;
mod errors;
mod events;
mod fapi;
mod fapi_flow;
mod helpers;
mod input_limits;
mod introspection;
mod keys;
mod logout;
mod mfa;
mod migrations;
mod ops;
mod par;
mod process;
mod refresh;
mod registration;
mod replicas;
mod resources;
mod revocation;
mod token;
mod token_exchange;
mod userinfo;
