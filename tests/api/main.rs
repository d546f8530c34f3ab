//! Integration tests: each starts the real server on port 0 with a fresh
//! database (a temporary SQLite file, or a fresh PostgreSQL database when
//! PORTCULLIS_TEST_POSTGRES_URL is set), then talks to it as clients and
//! relying parties would.

mod admin;
mod authorize;
mod browser;
mod cli;
mod discovery;
mod errors;
mod hardening;
mod helpers;
mod keys;
mod logout;
mod migrations;
mod process;
mod refresh;
mod replicas;
mod token;
mod userinfo;
