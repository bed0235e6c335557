//! The Kubernetes versions keks' EKS offers, with their platform versions and support
//! windows. The dates are EKS's published release calendar; statuses are as of November
//! 2026. Every version is served with the Kubernetes 1.34 API (the schemas keks-apiserver
//! is built from); `/version` reports the cluster's own version.

/// One supported minor version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KubernetesVersion {
    pub version: &'static str,
    pub platform_version: &'static str,
    pub patch_version: &'static str,
    /// `YYYY-MM-DD`.
    pub release_date: &'static str,
    pub end_of_standard_support: &'static str,
    pub end_of_extended_support: &'static str,
    pub status: SupportStatus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupportStatus {
    Standard,
    Extended,
}

impl SupportStatus {
    /// `ClusterVersionStatus` (DescribeClusterVersions).
    pub fn wire(self) -> &'static str {
        match self {
            Self::Standard => "standard-support",
            Self::Extended => "extended-support",
        }
    }

    /// `VersionStatus`.
    pub fn version_status(self) -> &'static str {
        match self {
            Self::Standard => "STANDARD_SUPPORT",
            Self::Extended => "EXTENDED_SUPPORT",
        }
    }
}

pub const VERSIONS: &[KubernetesVersion] = &[
    KubernetesVersion {
        version: "1.31",
        platform_version: "eks.35",
        patch_version: "1.31.13",
        release_date: "2024-09-26",
        end_of_standard_support: "2025-11-26",
        end_of_extended_support: "2026-11-26",
        status: SupportStatus::Extended,
    },
    KubernetesVersion {
        version: "1.32",
        platform_version: "eks.22",
        patch_version: "1.32.9",
        release_date: "2025-01-23",
        end_of_standard_support: "2026-03-23",
        end_of_extended_support: "2027-03-23",
        status: SupportStatus::Extended,
    },
    KubernetesVersion {
        version: "1.33",
        platform_version: "eks.16",
        patch_version: "1.33.5",
        release_date: "2025-05-29",
        end_of_standard_support: "2026-07-29",
        end_of_extended_support: "2027-07-29",
        status: SupportStatus::Extended,
    },
    KubernetesVersion {
        version: "1.34",
        platform_version: "eks.7",
        patch_version: "1.34.1",
        release_date: "2025-10-02",
        end_of_standard_support: "2026-12-02",
        end_of_extended_support: "2027-12-02",
        status: SupportStatus::Standard,
    },
];

/// The version a cluster gets when CreateCluster names none.
pub const DEFAULT_VERSION: &str = "1.34";

pub fn find(version: &str) -> Option<&'static KubernetesVersion> {
    VERSIONS.iter().find(|v| v.version == version)
}

/// The minor number of `1.NN`.
pub fn minor(version: &str) -> Option<u32> {
    version.strip_prefix("1.")?.parse().ok()
}

/// Epoch seconds of a `YYYY-MM-DD` date (midnight UTC).
pub fn date_seconds(date: &str) -> f64 {
    date.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp().as_second() as f64)
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_offered_and_minors_parse() {
        assert!(find(DEFAULT_VERSION).is_some());
        assert_eq!(minor("1.31"), Some(31));
        assert_eq!(minor("2.0"), None);
        assert_eq!(date_seconds("1970-01-02"), 86400.0);
    }
}
