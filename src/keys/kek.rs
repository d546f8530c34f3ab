//! The key-encryption key (KEK): seals signing keys at rest with AES-256-GCM.
//! It lives outside the database, so a stolen database alone reveals no
//! signing key.

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use super::KeyError;

/// Format tag of a sealed blob: `1 || nonce (12) || ciphertext+tag`.
const SEALED_V1: u8 = 1;
const NONCE_LEN: usize = 12;

/// The AES key is wiped from memory when the last copy is dropped (the
/// cipher's own key schedule is, through aes-gcm's `zeroize` feature).
#[derive(Clone)]
pub struct Kek {
    cipher: Aes256Gcm,
    bytes: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(..)")
    }
}

impl Kek {
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let key = Zeroizing::new(Key::<Aes256Gcm>::from(*bytes));
        Kek {
            cipher: Aes256Gcm::new(&key),
            bytes: Zeroizing::new(*bytes),
        }
    }

    /// Reads the KEK file (32 bytes, base64), creating it with mode 0600 when absent.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        match std::fs::read_to_string(path).map(Zeroizing::new) {
            Ok(text) => Self::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(path),
            Err(e) => Err(KeyError::Kek(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// Reads an existing KEK file; never creates one.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|e| KeyError::Kek(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(path, &text)
    }

    fn parse(path: &Path, text: &str) -> Result<Self, KeyError> {
        let decoded = STANDARD
            .decode(text.trim())
            .map(Zeroizing::new)
            .map_err(|_| KeyError::Kek(format!("{} is not base64", path.display())))?;
        let bytes: Zeroizing<[u8; 32]> = decoded
            .as_slice()
            .try_into()
            .map(Zeroizing::new)
            .map_err(|_| {
                KeyError::Kek(format!(
                    "{} must hold exactly 32 bytes (base64)",
                    path.display()
                ))
            })?;
        Ok(Self::from_bytes(&bytes))
    }

    /// Generates a new KEK file. `create_new` refuses to overwrite a file that
    /// appeared meanwhile (another process starting at the same moment).
    pub fn create(path: &Path) -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        Self::write_new(path, &bytes, true)
    }

    /// Writes `bytes` as a new KEK file (mode 0600); never overwrites one.
    fn write_new(path: &Path, bytes: &[u8; 32], use_existing: bool) -> Result<Self, KeyError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| KeyError::Kek(format!("cannot create {}: {e}", dir.display())))?;
        }
        // Written in full under a temporary name, then linked into place:
        // a process starting at the same moment sees either no file or a
        // whole one, never the half-written file it would refuse.
        let temporary = sibling(path, &format!(".tmp-{}", crate::secrets::random_token(8)));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let cannot_write =
            |e: std::io::Error| KeyError::Kek(format!("cannot write {}: {e}", temporary.display()));
        let mut file = options.open(&temporary).map_err(cannot_write)?;
        let written = file
            .write_all(Zeroizing::new(STANDARD.encode(bytes)).as_bytes())
            .and_then(|_| file.write_all(b"\n"))
            .and_then(|_| file.sync_all());
        drop(file);
        let linked = written.and_then(|_| std::fs::hard_link(&temporary, path));
        let _ = std::fs::remove_file(&temporary);
        match linked {
            Ok(()) => {
                tracing::info!(path = %path.display(), "created a new key-encryption key");
                Ok(Self::from_bytes(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && use_existing => {
                // Another process created it first: use theirs.
                Self::load(path)
            }
            Err(e) => Err(KeyError::Kek(format!(
                "cannot create {}: {e}",
                path.display()
            ))),
        }
    }

    /// Writes this KEK to a new file (mode 0600).
    pub fn save_new(&self, path: &Path) -> Result<(), KeyError> {
        Self::write_new(path, &self.bytes, false).map(|_| ())
    }

    /// A 32-byte secret for `label`, derived from the KEK (HMAC-SHA-256 as
    /// a PRF): every replica with this KEK derives the same one, and it
    /// reveals nothing of the KEK.
    pub fn derive(&self, label: &str) -> Zeroizing<[u8; 32]> {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, self.bytes.as_ref());
        let tag = aws_lc_rs::hmac::sign(&key, label.as_bytes());
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Seals `plaintext`, bound to `kid` as associated data so a sealed blob
    /// cannot be moved to another key's row.
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Seal)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(SEALED_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    pub fn unseal(&self, kid: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        match sealed.split_first() {
            Some((&SEALED_V1, rest)) if rest.len() > NONCE_LEN => {
                let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
                let nonce: [u8; NONCE_LEN] = nonce
                    .try_into()
                    .map_err(|_| KeyError::Unseal(kid.to_owned()))?;
                self.cipher
                    .decrypt(
                        &Nonce::from(nonce),
                        Payload {
                            msg: ciphertext,
                            aad: kid.as_bytes(),
                        },
                    )
                    .map(Zeroizing::new)
                    .map_err(|_| KeyError::Unseal(kid.to_owned()))
            }
            _ => Err(KeyError::Unseal(kid.to_owned())),
        }
    }
}

/// The KEK files beside `kek_file`: `.previous` (the KEK before the last
/// `keys rewrap`) and `.next` (one being introduced by a rewrap in progress).
pub fn sibling(kek_file: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = kek_file.as_os_str().to_owned();
    name.push(suffix);
    std::path::PathBuf::from(name)
}

/// The current KEK, which seals, and the others a key may still be sealed
/// under while a `keys rewrap` settles (each replica re-reads the files).
#[derive(Debug, Clone)]
pub struct Keyring {
    current: Kek,
    others: Vec<Kek>,
}

impl Keyring {
    pub fn single(kek: Kek) -> Self {
        Keyring {
            current: kek,
            others: Vec::new(),
        }
    }

    /// Loads `kek_file` (created when absent) and its `.next` and `.previous`
    /// siblings when they exist.
    pub fn load_or_create(kek_file: &Path) -> Result<Self, KeyError> {
        let current = Kek::load_or_create(kek_file)?;
        let mut others = Vec::new();
        for suffix in [".next", ".previous"] {
            let path = sibling(kek_file, suffix);
            if path.exists() {
                others.push(Kek::load(&path)?);
            }
        }
        Ok(Keyring { current, others })
    }

    pub fn current(&self) -> &Kek {
        &self.current
    }

    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.current.seal(kid, plaintext)
    }

    /// Unseals with whichever KEK sealed the blob (AES-GCM's tag tells).
    pub fn unseal(&self, kid: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        std::iter::once(&self.current)
            .chain(&self.others)
            .find_map(|kek| kek.unseal(kid, sealed).ok())
            .ok_or_else(|| KeyError::Unseal(kid.to_owned()))
    }
}

/// A new random KEK, not yet written anywhere.
pub fn generate() -> Kek {
    let mut bytes = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(bytes.as_mut());
    Kek::from_bytes(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_binds_the_kid() {
        let kek = Kek::from_bytes(&[7u8; 32]);
        let sealed = kek.seal("kid-a", b"secret key").unwrap();
        assert!(!sealed.windows(10).any(|w| w == b"secret key"));
        assert_eq!(
            kek.unseal("kid-a", &sealed).unwrap().as_slice(),
            b"secret key"
        );
        assert!(kek.unseal("kid-b", &sealed).is_err());
        let other = Kek::from_bytes(&[8u8; 32]);
        assert!(other.unseal("kid-a", &sealed).is_err());
        assert!(kek.unseal("kid-a", &sealed[..5]).is_err());
    }

    #[test]
    fn creates_the_file_with_owner_only_permissions() {
        let dir = tempdir();
        let path = dir.join("keys").join("kek");
        let kek = Kek::load_or_create(&path).unwrap();
        let again = Kek::load_or_create(&path).unwrap();
        let sealed = kek.seal("k", b"x").unwrap();
        assert_eq!(again.unseal("k", &sealed).unwrap().as_slice(), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not base64!").unwrap();
        assert!(Kek::load(&path).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    fn tempdir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "portcullis-kek-{}",
            crate::secrets::random_token(6)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
