//! Identifiers as AWS forms them.

use rand::Rng;

fn hex(len: usize, upper: bool) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| {
            let d = rng.gen_range(0..16u8);
            let c = char::from_digit(d.into(), 16).expect("a hex digit");
            if upper {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

/// The 32 uppercase hex digits EKS uses in a cluster's endpoint and OIDC issuer.
pub fn cluster_id() -> String {
    hex(32, true)
}

/// A UUID, as EKS uses for update ids and ARN suffixes.
pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}
