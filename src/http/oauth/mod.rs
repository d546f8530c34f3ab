//! The OAuth 2.0 and OpenID Connect endpoints, one file per family.

pub mod authorize;
pub mod logout;
pub mod par;
pub mod register;
pub mod token;
pub mod userinfo;
pub mod wellknown;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(wellknown::jwks)
        .service(wellknown::openid_configuration)
        .service(wellknown::oauth_authorization_server)
        .service(token::token)
        .service(token::introspect)
        .service(token::revoke)
        .service(token::device_authorization)
        .service(par::push)
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
