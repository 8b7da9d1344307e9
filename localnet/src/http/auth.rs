//! Request authentication as the replica's ingress validator does it
//! (dfinity/ic `rs/validator/src/ingress_validation.rs`): decode the CBOR envelope, check the
//! ingress expiry against the subnet's time, and verify the sender: anonymous requests carry no
//! signature; others carry a DER public key whose self-authenticating principal is the sender,
//! an optional delegation chain, and a signature of `"\x0Aic-request" ‖ request id` by the last
//! key of the chain. Ed25519, ECDSA secp256k1 and ECDSA P-256 keys are accepted (what ic-agent's
//! identities produce); canister signatures and WebAuthn are not.
//!
//! Every failure maps to HTTP 400 with the replica's message text.

use super::HttpError;
use candid::Principal;
use ic_transport_types::{Envelope, EnvelopeContent, RequestId, SignedDelegation};
use std::collections::BTreeSet;

/// How far in the future an ingress expiry may be: the IC's `MAX_INGRESS_TTL` (5 minutes) plus
/// the 30 s of clock drift the replica permits.
pub const MAX_INGRESS_TTL_NANOS: u64 = (5 * 60 + 30) * 1_000_000_000;

/// DER prefix of an Ed25519 public key.
const ED25519_DER_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// An authenticated request.
#[derive(Debug)]
pub(crate) struct Authenticated {
    /// What was signed.
    pub content: EnvelopeContent,
    /// Its request id.
    pub request_id: RequestId,
    /// The sender (authenticated, or anonymous).
    pub sender: Principal,
    /// Canisters the delegation chain restricts the request to (`None`: any).
    pub targets: Option<BTreeSet<Principal>>,
}

impl Authenticated {
    /// Whether the delegations allow acting on `canister`.
    pub fn may_target(&self, canister: &Principal) -> bool {
        self.targets.as_ref().is_none_or(|t| t.contains(canister))
    }
}

/// Decodes and authenticates an envelope at subnet time `now` (ns).
pub(crate) fn authenticate(body: &[u8], now: u64) -> Result<Authenticated, HttpError> {
    let envelope: Envelope<'static> = serde_cbor::from_slice(body)
        .map_err(|e| HttpError::bad_request(format!("Failed to deserialize cbor request: {e}")))?;
    let content = envelope.content.into_owned();
    let request_id = content.to_request_id();
    check_expiry(content.ingress_expiry(), now)?;
    let sender = *content.sender();
    let targets = match (envelope.sender_pubkey, envelope.sender_sig) {
        (None, None) if sender == Principal::anonymous() => None,
        (None, None) => {
            return Err(HttpError::bad_request(format!(
                "Missing signature from user: {sender}"
            )));
        }
        _ if sender == Principal::anonymous() => {
            return Err(HttpError::bad_request(
                "Signature is not allowed for the anonymous user",
            ));
        }
        (Some(pubkey), Some(sig)) => {
            if Principal::self_authenticating(&pubkey) != sender {
                return Err(HttpError::bad_request(format!(
                    "The user id {sender} does not match the public key {}",
                    hex::encode(&pubkey)
                )));
            }
            let delegations = envelope.sender_delegation.unwrap_or_default();
            let (signer, targets) = check_delegations(&pubkey, &delegations, now)?;
            verify(&signer, &request_id.signable(), &sig)
                .map_err(|e| HttpError::bad_request(format!("Invalid signature: {e}")))?;
            targets
        }
        _ => {
            return Err(HttpError::bad_request(format!(
                "Missing signature from user: {sender}"
            )));
        }
    };
    Ok(Authenticated {
        content,
        request_id,
        sender,
        targets,
    })
}

fn check_expiry(expiry: u64, now: u64) -> Result<(), HttpError> {
    let max = now.saturating_add(MAX_INGRESS_TTL_NANOS);
    if expiry < now || expiry > max {
        return Err(HttpError::bad_request(format!(
            "Invalid request expiry: Specified ingress_expiry not within expected range: \
             Minimum allowed expiry: {now}, Maximum allowed expiry: {max}, \
             Provided expiry: {expiry}, Local replica time: {now}"
        )));
    }
    Ok(())
}

/// Walks the delegation chain from the sender's key; returns the key that must have signed the
/// request and the canisters the chain allows.
fn check_delegations(
    sender_key: &[u8],
    chain: &[SignedDelegation],
    now: u64,
) -> Result<(Vec<u8>, Option<BTreeSet<Principal>>), HttpError> {
    let mut key = sender_key.to_vec();
    let mut targets: Option<BTreeSet<Principal>> = None;
    for signed in chain {
        let d = &signed.delegation;
        if d.expiration < now {
            return Err(HttpError::bad_request(format!(
                "Invalid delegation expiry: Specified sender delegation has expired: \
                 Provided expiry: {}, Local replica time: {now}",
                d.expiration
            )));
        }
        verify(&key, &d.signable(), &signed.signature)
            .map_err(|e| HttpError::bad_request(format!("Invalid delegation: {e}")))?;
        if let Some(t) = &d.targets {
            let t: BTreeSet<Principal> = t.iter().copied().collect();
            targets = Some(match targets {
                None => t,
                Some(prev) => prev.intersection(&t).copied().collect(),
            });
        }
        key = d.pubkey.clone();
    }
    Ok((key, targets))
}

/// Verifies `sig` over `msg` with a DER-encoded public key.
fn verify(der: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), String> {
    use k256::pkcs8::DecodePublicKey;
    if der.len() == 44 && der[..12] == ED25519_DER_PREFIX {
        let key = ic_ed25519::PublicKey::deserialize_raw(&der[12..])
            .map_err(|e| format!("Invalid public key: {e:?}"))?;
        return key.verify_signature(msg, sig).map_err(|_| {
            "Invalid basic signature: Ed25519 signature could not be verified".into()
        });
    }
    if let Ok(key) = k256::ecdsa::VerifyingKey::from_public_key_der(der) {
        use k256::ecdsa::signature::Verifier;
        let sig = k256::ecdsa::Signature::from_slice(sig)
            .map_err(|_| "Invalid basic signature: malformed ECDSA secp256k1 signature")?;
        return key.verify(msg, &sig).map_err(|_| {
            "Invalid basic signature: ECDSA secp256k1 signature could not be verified".into()
        });
    }
    if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
        use p256::ecdsa::signature::Verifier;
        let sig = p256::ecdsa::Signature::from_slice(sig)
            .map_err(|_| "Invalid basic signature: malformed ECDSA P-256 signature")?;
        return key.verify(msg, &sig).map_err(|_| {
            "Invalid basic signature: ECDSA P-256 signature could not be verified".into()
        });
    }
    Err(format!(
        "Invalid public key: unsupported or malformed public key {}",
        hex::encode(der)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_envelope(
        key: &ic_ed25519::PrivateKey,
        expiry: u64,
        tamper: bool,
    ) -> (Vec<u8>, Principal) {
        let der = key.public_key().serialize_rfc8410_der();
        let sender = Principal::self_authenticating(&der);
        let content = EnvelopeContent::ReadState {
            ingress_expiry: expiry,
            sender,
            paths: vec![vec!["time".into()]],
        };
        let mut sig = key
            .sign_message(&content.to_request_id().signable())
            .to_vec();
        if tamper {
            sig[0] ^= 1;
        }
        let envelope = Envelope {
            content: std::borrow::Cow::Owned(content),
            sender_pubkey: Some(der),
            sender_sig: Some(sig),
            sender_delegation: None,
        };
        (envelope.encode_bytes(), sender)
    }

    #[test]
    fn an_ed25519_signed_request_is_authenticated_and_a_tampered_one_refused() {
        let key = ic_ed25519::PrivateKey::generate_from_seed(b"user");
        let now = 1_000_000_000_000;
        let (ok, sender) = signed_envelope(&key, now + 60_000_000_000, false);
        assert_eq!(authenticate(&ok, now).expect("valid").sender, sender);
        let (bad, _) = signed_envelope(&key, now + 60_000_000_000, true);
        let err = authenticate(&bad, now).expect_err("tampered");
        assert_eq!(err.status, http::StatusCode::BAD_REQUEST);
        assert!(
            err.message.starts_with("Invalid signature"),
            "{}",
            err.message
        );
    }

    #[test]
    fn an_expired_or_too_distant_expiry_is_refused() {
        let key = ic_ed25519::PrivateKey::generate_from_seed(b"user");
        let now = 1_000_000_000_000;
        for expiry in [now - 1, now + MAX_INGRESS_TTL_NANOS + 1] {
            let (body, _) = signed_envelope(&key, expiry, false);
            let err = authenticate(&body, now).expect_err("out of range");
            assert!(err.message.contains("ingress_expiry"), "{}", err.message);
        }
    }

    #[test]
    fn malformed_cbor_is_a_bad_request() {
        let err = authenticate(b"\x01\x02not cbor", 0).expect_err("garbage");
        assert_eq!(err.status, http::StatusCode::BAD_REQUEST);
        assert!(
            err.message
                .starts_with("Failed to deserialize cbor request")
        );
    }
}
