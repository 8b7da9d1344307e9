//! The keys of the emulated subnet: a BLS12-381 threshold key standing in for the root (NNS)
//! key, which signs certificates directly (no delegation, as on a local replica), and one node's
//! Ed25519 key, which signs query responses. Both derive from a 32-byte seed so a fixed seed
//! gives a fixed root key (reproducible tests); without one the seed is random per instance.

use candid::Principal;
use sha2::{Digest, Sha256};

/// DER prefix of a BLS12-381 G2 public key as the IC encodes its root key (IC-FACTS §6).
const BLS_DER_PREFIX: [u8; 37] = [
    0x30, 0x81, 0x82, 0x30, 0x1d, 0x06, 0x0d, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0xdc, 0x7c, 0x05,
    0x03, 0x01, 0x02, 0x01, 0x06, 0x0c, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0xdc, 0x7c, 0x05, 0x03,
    0x02, 0x01, 0x03, 0x61, 0x00,
];

/// Domain separator of a certificate signature: `"\x0Dic-state-root" ‖ root hash`.
const STATE_ROOT_DOMAIN: &[u8] = b"\x0Dic-state-root";
/// The file in a state directory that holds the key seed.
pub const KEY_SEED_FILE: &str = "key-seed";

/// The subnet's signing keys and the identities derived from them.
pub struct Keys {
    root: ic_verify_bls_signature::PrivateKey,
    root_key_der: Vec<u8>,
    subnet_id: Principal,
    node: ic_ed25519::PrivateKey,
    node_key_der: Vec<u8>,
    node_id: Principal,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("subnet_id", &self.subnet_id.to_text())
            .field("node_id", &self.node_id.to_text())
            .finish_non_exhaustive()
    }
}

impl Keys {
    /// Keys derived from `seed` (any bytes; hashed first).
    pub fn from_seed(seed: &[u8]) -> Keys {
        let derive = |purpose: &[u8]| -> [u8; 32] {
            let mut h = Sha256::new();
            h.update(purpose);
            h.update(seed);
            h.finalize().into()
        };
        // A big-endian scalar below the group order (0x73ed…): clearing the top two bits of a
        // hash is enough, and keeps the key a pure function of the seed.
        let mut scalar = derive(b"localnet root key");
        scalar[0] &= 0x3f;
        let root = ic_verify_bls_signature::PrivateKey::deserialize(&scalar)
            .expect("a scalar below the group order");
        let mut root_key_der = BLS_DER_PREFIX.to_vec();
        root_key_der.extend_from_slice(&root.public_key().serialize());
        // Without a delegation, ic-agent takes the subnet id to be the root key's
        // self-authenticating principal; the state tree must agree.
        let subnet_id = Principal::self_authenticating(&root_key_der);
        let node = ic_ed25519::PrivateKey::generate_from_seed(&derive(b"localnet node key"));
        let node_key_der = node.public_key().serialize_rfc8410_der();
        let node_id = Principal::self_authenticating(&node_key_der);
        Keys {
            root,
            root_key_der,
            subnet_id,
            node,
            node_key_der,
            node_id,
        }
    }

    /// Keys from a fresh random seed.
    pub fn random() -> Keys {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).expect("the OS random source");
        Keys::from_seed(&seed)
    }

    /// The keys of a subnet kept in `dir` (`--state-dir` without `--seed`): the seed is made
    /// once, saved as `dir/key-seed` (owner-only), and reused by every restart, so the root key
    /// stays the same and an agent that fetched it before a restart still verifies
    /// certificates after it, as with a replica that restarts on its state.
    pub fn for_state_dir(dir: &std::path::Path) -> std::io::Result<Keys> {
        let path = dir.join(KEY_SEED_FILE);
        match std::fs::read(&path) {
            Ok(seed) if seed.len() == 32 => return Ok(Keys::from_seed(&seed)),
            Ok(_) => {
                return Err(std::io::Error::other(format!(
                    "{} is not a 32-byte key seed; delete it to start a subnet with a new root key",
                    path.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(std::io::Error::other)?;
        std::fs::create_dir_all(dir)?;
        // Written to a temporary name and renamed: a crash leaves no half-written seed.
        let tmp = dir.join(format!("{KEY_SEED_FILE}.tmp"));
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&seed)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        Ok(Keys::from_seed(&seed))
    }

    /// The root public key in DER, as `/api/v2/status` reports it.
    pub fn root_key_der(&self) -> &[u8] {
        &self.root_key_der
    }

    /// The subnet id.
    pub fn subnet_id(&self) -> Principal {
        self.subnet_id
    }

    /// The (single) node's id.
    pub fn node_id(&self) -> Principal {
        self.node_id
    }

    /// The node's Ed25519 public key in DER.
    pub fn node_key_der(&self) -> &[u8] {
        &self.node_key_der
    }

    /// BLS signature (48 bytes) of a state tree root hash.
    pub(crate) fn sign_state_root(&self, root_hash: &[u8; 32]) -> Vec<u8> {
        let mut msg = STATE_ROOT_DOMAIN.to_vec();
        msg.extend_from_slice(root_hash);
        self.root.sign(&msg).serialize().to_vec()
    }

    /// The node's Ed25519 signature of a query response's signable bytes.
    pub(crate) fn sign_as_node(&self, signable: &[u8]) -> Vec<u8> {
        self.node.sign_message(signable).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_root_key_and_a_verifiable_signature() {
        let a = Keys::from_seed(b"seed");
        let b = Keys::from_seed(b"seed");
        assert_eq!(a.root_key_der(), b.root_key_der());
        assert_eq!(a.root_key_der().len(), 133);
        assert_ne!(a.root_key_der(), Keys::from_seed(b"other").root_key_der());
        let hash = [7u8; 32];
        let sig = a.sign_state_root(&hash);
        let mut msg = STATE_ROOT_DOMAIN.to_vec();
        msg.extend_from_slice(&hash);
        ic_verify_bls_signature::verify_bls_signature(&sig, &msg, &a.root_key_der()[37..])
            .expect("signature verifies");
    }
}
