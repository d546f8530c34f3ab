//! The OAuth 2.0 and OpenID Connect endpoints, one file per family.

pub mod authorize;
pub mod logout;
pub mod par;
pub mod register;
pub mod token;
pub mod userinfo;
pub mod wellknown;

use actix_web::http::{header, StatusCode};
use actix_web::web;

use crate::http::errors::problem;

/// An endpoint that takes form POSTs only: any other method is answered
/// 405 with `Allow: POST` (RFC 9110 §15.5.6), in JSON like its errors.
fn post_only(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|| async {
        let mut res = problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "this endpoint takes POST requests only",
        );
        res.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        res
    }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(wellknown::jwks)
        .service(wellknown::openid_configuration)
        .service(wellknown::oauth_authorization_server)
        .service(post_only("/token").route(web::post().to(token::token)))
        .service(post_only("/introspect").route(web::post().to(token::introspect)))
        .service(post_only("/revoke").route(web::post().to(token::revoke)))
        .service(
            post_only("/device_authorization").route(web::post().to(token::device_authorization)),
        )
        .service(post_only("/par").route(web::post().to(par::push)))
        .service(authorize::authorize_get)
        .service(authorize::authorize_post)
        .service(authorize::authorize_continue)
        .service(
            web::resource("/userinfo")
                .route(web::get().to(userinfo::userinfo_get))
                .route(web::post().to(userinfo::userinfo_post)),
        )
        .service(web::resource("/register").route(web::post().to(register::register)))
        .service(
            web::resource("/register/{client_id}")
                .route(web::get().to(register::read))
                .route(web::put().to(register::update))
                .route(web::delete().to(register::delete)),
        )
        .service(
            web::resource("/logout")
                .route(web::get().to(logout::logout_get))
                .route(web::post().to(logout::logout_post)),
        );
}
