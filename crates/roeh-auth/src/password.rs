//! Password hashing (Argon2id, PHC strings), the password policy, and usernames.
//!
//! Invariants:
//! - new hashes are always Argon2id v0x13 with a fresh 16-byte random salt, in PHC string form
//!   (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), so the parameters travel with each hash and can be
//!   raised later without breaking old hashes;
//! - [`PasswordHasher::verify`] accepts only Argon2id PHC strings; anything else (another
//!   algorithm, a malformed string, parameters above [`MAX_VERIFY_MEMORY_KIB`]) verifies false;
//! - [`PasswordHasher::verify_or_dummy`] costs one full hash whether or not the user exists, so
//!   login timing does not reveal which usernames exist (TRUST.md S15);
//! - passwords are never logged or echoed: policy messages name the rule, never the input.

use crate::{Error, Result};
use argon2::password_hash::{PasswordHash, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use roeh_domain::ErrorKind;
use std::fmt;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted, in characters.
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// Largest memory cost a stored hash may ask for at verification (1 GiB), so a corrupt or planted
/// hash cannot exhaust memory.
pub const MAX_VERIFY_MEMORY_KIB: u32 = 1 << 20;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl HashParams {
    /// OWASP's recommended Argon2id minimum: 19 MiB, 2 passes, 1 lane.
    pub const OWASP: HashParams = HashParams {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    /// The cheapest parameters Argon2 allows (8 KiB, 1 pass); for tests only.
    pub const INSECURE_FAST: HashParams = HashParams {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams::OWASP
    }
}

/// Hashes and verifies passwords with Argon2id.
pub struct PasswordHasher {
    argon: Argon2<'static>,
    /// A hash of a random password, verified against when the user does not exist.
    dummy: String,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", self.argon.params())
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher with these parameters; `InvalidArgument` if Argon2 refuses them.
    pub fn new(params: HashParams) -> Result<PasswordHasher> {
        let p = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("bad Argon2 parameters: {e}"),
            )
        })?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let mut hasher = PasswordHasher {
            argon,
            dummy: String::new(),
        };
        let mut pw = [0u8; 32];
        rand::rng().fill_bytes(&mut pw);
        hasher.dummy = hasher.hash_bytes(&pw)?;
        Ok(hasher)
    }

    /// Hashes a password into a PHC string. Does not apply the policy; see
    /// [`check_password_policy`].
    pub fn hash(&self, password: &str) -> Result<String> {
        self.hash_bytes(password.as_bytes())
    }

    fn hash_bytes(&self, password: &[u8]) -> Result<String> {
        use argon2::password_hash::PasswordHasher as _;
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt)
            .map_err(|e| Error::new(ErrorKind::Internal, format!("encoding salt: {e}")))?;
        self.argon
            .hash_password(password, &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::new(ErrorKind::Internal, format!("hashing password: {e}")))
    }

    /// Whether `password` matches the PHC string `phc`. False for anything but an Argon2id hash
    /// within [`MAX_VERIFY_MEMORY_KIB`]. The comparison of the digests is constant time.
    pub fn verify(&self, phc: &str, password: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        if parsed.algorithm != argon2::ARGON2ID_IDENT {
            return false;
        }
        match Params::try_from(&parsed) {
            Ok(p) if p.m_cost() <= MAX_VERIFY_MEMORY_KIB => {}
            _ => return false,
        }
        // `verify_password` takes the parameters from the PHC string itself.
        self.argon
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    }

    /// [`PasswordHasher::verify`] when the user exists (`Some(phc)`); otherwise spends the same
    /// work on a dummy hash and returns false. Use on every login so timing does not tell
    /// existing usernames from others.
    pub fn verify_or_dummy(&self, phc: Option<&str>, password: &str) -> bool {
        match phc {
            Some(phc) => self.verify(phc, password),
            None => {
                let _ = self.verify(&self.dummy, password);
                false
            }
        }
    }

    /// Whether `phc` was made with weaker parameters than this hasher's (or is not Argon2id), so
    /// the password should be re-hashed at the next successful login.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return true;
        };
        if parsed.algorithm != argon2::ARGON2ID_IDENT {
            return true;
        }
        let Ok(p) = Params::try_from(&parsed) else {
            return true;
        };
        let want = self.argon.params();
        p.m_cost() < want.m_cost() || p.t_cost() < want.t_cost() || p.p_cost() < want.p_cost()
    }
}

/// Checks a new password against the policy: at least [`MIN_PASSWORD_CHARS`] and at most
/// [`MAX_PASSWORD_CHARS`] characters, not one character repeated, no control characters, and not
/// the username. The error names the rule that failed, never the password.
pub fn check_password_policy(password: &str, username: &str) -> Result<()> {
    let n = password.chars().count();
    let refuse = |rule: &str| Err(Error::new(ErrorKind::InvalidArgument, rule));
    if n < MIN_PASSWORD_CHARS {
        return refuse("password must be at least 12 characters long");
    }
    if n > MAX_PASSWORD_CHARS {
        return refuse("password must be at most 1024 characters long");
    }
    let mut chars = password.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return refuse("password must not be one character repeated");
    }
    if password.chars().any(char::is_control) {
        return refuse("password must not contain control characters");
    }
    if password.eq_ignore_ascii_case(username) {
        return refuse("password must not be the username");
    }
    Ok(())
}

/// Longest username accepted.
pub const MAX_USERNAME_LEN: usize = 64;

/// Checks a username: 1 to [`MAX_USERNAME_LEN`] characters of `a-z 0-9 . _ -`, starting with a
/// letter or digit. Lowercase only, so names cannot collide by case and cannot carry control
/// characters, markup or escapes into logs and pages (TRUST.md S12, S20).
pub fn validate_username(name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    let starts_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if name.is_empty() || name.len() > MAX_USERNAME_LEN || !starts_ok || !name.chars().all(ok_char)
    {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "username must be 1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a \
             letter or digit",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fast() -> PasswordHasher {
        PasswordHasher::new(HashParams::INSECURE_FAST).unwrap()
    }

    #[test]
    fn phc_round_trip_and_wrong_password() {
        let h = fast();
        let phc = h.hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{phc}");
        assert!(h.verify(&phc, "correct horse battery"));
        assert!(!h.verify(&phc, "correct horse batterY"));
        assert!(!h.verify(&phc, ""));
        // Fresh salt each time.
        assert_ne!(phc, h.hash("correct horse battery").unwrap());
    }

    #[test]
    fn a_hash_verifies_under_other_parameters() {
        let phc = fast().hash("long enough password").unwrap();
        let other = PasswordHasher::new(HashParams {
            memory_kib: 16,
            iterations: 2,
            parallelism: 1,
        })
        .unwrap();
        assert!(other.verify(&phc, "long enough password"));
        assert!(other.needs_rehash(&phc));
        assert!(!fast().needs_rehash(&phc));
    }

    #[test]
    fn default_parameters_are_owasp() {
        assert_eq!(HashParams::default(), HashParams::OWASP);
        assert_eq!(HashParams::OWASP.memory_kib, 19_456);
        assert_eq!(HashParams::OWASP.iterations, 2);
        assert_eq!(HashParams::OWASP.parallelism, 1);
        assert!(
            PasswordHasher::new(HashParams {
                memory_kib: 0,
                iterations: 0,
                parallelism: 0
            })
            .is_err()
        );
    }

    #[test]
    fn other_algorithms_and_junk_verify_false() {
        let h = fast();
        let phc = h.hash("long enough password").unwrap();
        let argon2i = phc.replacen("$argon2id$", "$argon2i$", 1);
        assert!(!h.verify(&argon2i, "long enough password"));
        let huge = phc.replacen("m=8,", "m=4194304,", 1);
        assert!(!h.verify(&huge, "long enough password"));
        for junk in [
            "",
            "plain",
            "$argon2id$",
            "$scrypt$ln=15,r=8,p=1$c2FsdA$aGFzaA",
        ] {
            assert!(!h.verify(junk, "long enough password"), "{junk:?}");
            assert!(h.needs_rehash(junk));
        }
    }

    #[test]
    fn missing_users_verify_false_through_the_dummy() {
        let h = fast();
        assert!(!h.verify_or_dummy(None, "anything at all"));
        let phc = h.hash("long enough password").unwrap();
        assert!(h.verify_or_dummy(Some(&phc), "long enough password"));
        assert!(!h.verify_or_dummy(Some(&phc), "wrong password!!"));
        // The dummy is a real Argon2id hash with this hasher's parameters.
        assert!(h.dummy.starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
        assert!(format!("{h:?}").contains("PasswordHasher"));
        assert!(!format!("{h:?}").contains(&h.dummy));
    }

    #[test]
    fn password_policy_names_the_rule() {
        let e = check_password_policy("short", "olga").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains("at least 12"), "{e}");
        assert!(!e.message().contains("short"));
        // 12 characters (not bytes): 12 two-byte characters pass, 11 do not.
        assert!(check_password_policy(&"éa".repeat(6), "olga").is_ok());
        assert!(check_password_policy(&"éa".repeat(5), "olga").is_err());
        let e = check_password_policy(&"x".repeat(1025), "olga").unwrap_err();
        assert!(e.message().contains("at most 1024"));
        assert!(check_password_policy(&"xy".repeat(512), "olga").is_ok());
        let e = check_password_policy("aaaaaaaaaaaaaaaa", "olga").unwrap_err();
        assert!(e.message().contains("one character repeated"));
        let e = check_password_policy("good password\n1", "olga").unwrap_err();
        assert!(e.message().contains("control"));
        let e = check_password_policy("Administrator", "administrator").unwrap_err();
        assert!(e.message().contains("username"));
        assert!(check_password_policy("correct horse battery", "olga").is_ok());
    }

    #[test]
    fn usernames_are_strict() {
        for ok in [
            "olga",
            "a",
            "unit-17",
            "j.doe_2",
            "0perator",
            &"a".repeat(64),
        ] {
            assert!(validate_username(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "Olga",
            " olga",
            "olga ",
            "-olga",
            ".olga",
            "ol ga",
            "olga\r\nadmin",
            "olga\u{1b}[31m",
            "<script>",
            "ölga",
            &"a".repeat(65),
        ] {
            assert!(validate_username(bad).is_err(), "{bad:?}");
        }
    }
}
