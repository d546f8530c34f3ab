//! HTML pages: plain, accessible, no script, no external resources. One
//! file per page family: `login.rs`, `consent.rs`, `device.rs`, and the
//! person's own page in `account/`.

pub mod account;
pub mod consent;
pub mod device;
pub mod login;
pub mod passkeys;
pub mod second_factor;

use actix_web::http::{header, StatusCode};
use actix_web::{get, web, HttpResponse, HttpResponseBuilder};
use askama::Template;

use super::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login::login_form)
        .service(login::login_submit)
        .service(passkeys::script)
        .service(passkeys::sign_in_options)
        .service(passkeys::sign_in)
        .service(passkeys::second_factor_options)
        .service(second_factor::second_factor_form)
        .service(second_factor::second_factor_submit)
        .service(second_factor::enrol_submit)
        .service(consent::consent_form)
        .service(consent::consent_submit)
        .service(device::device_form)
        .service(device::device_submit)
        .service(device::device_login)
        .service(device::device_confirm)
        .configure(account::routes);
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    issuer: &'a str,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

/// Headers every page carries: no script at all, no framing (clickjacking),
/// no caching of pages that hold CSRF tokens, no referrer leaking codes.
pub fn page_builder(status: StatusCode) -> HttpResponseBuilder {
    builder_with_policy(
        status,
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
}

/// [`page_builder`] for a page that offers passkeys: the one script this
/// server serves (`/assets/webauthn.js`), and its requests, from this
/// origin only; still no inline script.
pub fn page_builder_with_passkeys(status: StatusCode) -> HttpResponseBuilder {
    builder_with_policy(
        status,
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
}

fn builder_with_policy(status: StatusCode, policy: &'static str) -> HttpResponseBuilder {
    let mut builder = HttpResponse::build(status);
    builder
        .insert_header((header::CONTENT_SECURITY_POLICY, policy))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/html; charset=utf-8");
    builder
}

/// Renders a template into a page response.
pub fn render(mut builder: HttpResponseBuilder, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => builder.body(body),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            page_builder(StatusCode::INTERNAL_SERVER_ERROR).body("internal error")
        }
    }
}

/// A readable error page.
pub fn error(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    message_page(status, title, message)
}

/// A page that says one thing: a title and a message (errors, and the end
/// of a flow such as a connected device).
pub fn message_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    render(page_builder(status), &ErrorPage { title, message })
}

/// GET / — what this server is and where its metadata lives.
#[get("/")]
pub async fn index(state: web::Data<State>) -> HttpResponse {
    render(
        page_builder(StatusCode::OK),
        &IndexPage {
            issuer: state.ctx.issuer(),
        },
    )
}

pub async fn not_found() -> HttpResponse {
    error(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is nothing at this address.",
    )
}
