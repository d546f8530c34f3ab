//! A software authenticator for the tests and the benchmark; the server
//! never calls it.
//!
//! It makes ES256 resident credentials, answers creation options with
//! attestation "none" and request options with a signed assertion, both as
//! the JSON of `credential.toJSON()` in a browser. CBOR is written by hand
//! (CTAP2 canonical form), for the few shapes needed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey as _;
use rand_core::{OsRng, RngCore as _};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

/// Authenticator data flags.
pub const FLAG_UP: u8 = 0x01;
pub const FLAG_UV: u8 = 0x04;
pub const FLAG_BE: u8 = 0x08;
pub const FLAG_BS: u8 = 0x10;
const FLAG_AT: u8 = 0x40;

/// One resident credential.
pub struct Resident {
    pub rp_id: String,
    pub credential_id: Vec<u8>,
    pub user_handle: Vec<u8>,
    pub key: SigningKey,
    pub counter: u32,
}

/// Holds resident credentials; flags and counter step are settable so that
/// tests can produce what a real authenticator would refuse to.
pub struct SoftwareAuthenticator {
    pub credentials: Vec<Resident>,
    /// Flags set in both ceremonies (AT is added for registration).
    pub flags: u8,
    /// Added to a credential's counter at each assertion (0: no counter).
    pub counter_step: u32,
}

impl Default for SoftwareAuthenticator {
    fn default() -> Self {
        Self::new()
    }
}

fn field<'a>(v: &'a Value, path: &[&str]) -> Result<&'a Value, String> {
    let mut cur = v;
    for p in path {
        cur = cur
            .get(p)
            .ok_or_else(|| format!("options lack {}", path.join(".")))?;
    }
    Ok(cur)
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str, String> {
    field(v, path)?
        .as_str()
        .ok_or_else(|| format!("{} is not a string", path.join(".")))
}

fn b64(v: &Value, path: &[&str]) -> Result<Vec<u8>, String> {
    B64.decode(text(v, path)?)
        .map_err(|e| format!("{}: {e}", path.join(".")))
}

/// A CBOR head: major type and argument.
fn cbor_head(out: &mut Vec<u8>, major: u8, n: usize) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[m | 24, n as u8]);
    } else if n < 0x10000 {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn cbor_bytes(out: &mut Vec<u8>, b: &[u8]) {
    cbor_head(out, 2, b.len());
    out.extend_from_slice(b);
}

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    cbor_head(out, 3, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// The COSE_Key of an ES256 public key, canonical order 1, 3, -1, -2, -3.
pub fn cose_es256(key: &SigningKey) -> Vec<u8> {
    let point = key.verifying_key().to_encoded_point(false);
    let mut out = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
    cbor_bytes(&mut out, point.x().map(|x| &x[..]).unwrap_or(&[]));
    out.push(0x22);
    cbor_bytes(&mut out, point.y().map(|y| &y[..]).unwrap_or(&[]));
    out
}

fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
    // The order and spelling of browsers' JSON serialization.
    format!(
        r#"{{"type":"{kind}","challenge":"{challenge}","origin":"{origin}","crossOrigin":false}}"#
    )
    .into_bytes()
}

impl SoftwareAuthenticator {
    /// UP|UV, not backup eligible, counter +1 per assertion.
    pub fn new() -> Self {
        Self {
            credentials: Vec::new(),
            flags: FLAG_UP | FLAG_UV,
            counter_step: 1,
        }
    }

    /// The RegistrationResponseJSON for creation options (as
    /// `start_registration` returns them) at `origin`.
    pub fn register(&mut self, options: &Value, origin: &str) -> Result<String, String> {
        let rp_id = text(options, &["rp", "id"])?.to_owned();
        let user_handle = b64(options, &["user", "id"])?;
        let challenge = text(options, &["challenge"])?;
        if let Some(excluded) = options.get("excludeCredentials").and_then(Value::as_array) {
            for d in excluded {
                let id = b64(d, &["id"])?;
                if self
                    .credentials
                    .iter()
                    .any(|c| c.rp_id == rp_id && c.credential_id == id)
                {
                    return Err("InvalidStateError: a credential is excluded".into());
                }
            }
        }
        let key = SigningKey::random(&mut OsRng);
        let mut credential_id = vec![0u8; 32];
        OsRng.fill_bytes(&mut credential_id);

        let cose = cose_es256(&key);
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags | FLAG_AT);
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID
        auth_data.extend_from_slice(&(credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&credential_id);
        auth_data.extend_from_slice(&cose);

        // {"fmt": "none", "attStmt": {}, "authData": h'..'}, canonical order.
        let mut attestation = vec![0xa3];
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        attestation.push(0xa0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &auth_data);

        let spki = p256::PublicKey::from(key.verifying_key())
            .to_public_key_der()
            .map_err(|e| e.to_string())?;
        let id = B64.encode(&credential_id);
        let response = json!({
            "id": id,
            "rawId": id,
            "response": {
                "clientDataJSON": B64.encode(client_data("webauthn.create", challenge, origin)),
                "authenticatorData": B64.encode(&auth_data),
                "transports": ["internal"],
                "publicKey": B64.encode(spki.as_bytes()),
                "publicKeyAlgorithm": -7,
                "attestationObject": B64.encode(&attestation),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "type": "public-key",
        });
        self.credentials.push(Resident {
            rp_id,
            credential_id,
            user_handle,
            key,
            counter: 0,
        });
        Ok(response.to_string())
    }

    /// The AuthenticationResponseJSON for request options at `origin`: the
    /// first resident credential of the rp id that allowCredentials names
    /// (any, for an empty list), its counter stepped.
    pub fn assert(&mut self, options: &Value, origin: &str) -> Result<String, String> {
        let rp_id = text(options, &["rpId"])?.to_owned();
        let challenge = text(options, &["challenge"])?.to_owned();
        let allowed = options
            .get("allowCredentials")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|d| b64(d, &["id"]))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let flags = self.flags;
        let step = self.counter_step;
        let credential = self
            .credentials
            .iter_mut()
            .find(|c| {
                c.rp_id == rp_id && (allowed.is_empty() || allowed.contains(&c.credential_id))
            })
            .ok_or("NotAllowedError: no credential for this rp id")?;
        credential.counter = credential.counter.wrapping_add(step);

        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(flags);
        auth_data.extend_from_slice(&credential.counter.to_be_bytes());
        let client_data = client_data("webauthn.get", &challenge, origin);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = credential.key.sign(&signed);

        let id = B64.encode(&credential.credential_id);
        let response = json!({
            "id": id,
            "rawId": id,
            "response": {
                "clientDataJSON": B64.encode(&client_data),
                "authenticatorData": B64.encode(&auth_data),
                "signature": B64.encode(signature.to_der().as_bytes()),
                "userHandle": B64.encode(&credential.user_handle),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "type": "public-key",
        });
        Ok(response.to_string())
    }
}
