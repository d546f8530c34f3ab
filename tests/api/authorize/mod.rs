//! /authorize and the pages behind it (login and consent), driven over
//! HTTP with a cookie jar (see [`crate::helpers::browser`]).

mod code_flow;
mod consent;
mod login_form;
mod prompt;
mod redirects;
