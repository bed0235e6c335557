//! The IAM principals EKS checks references against: a cluster's `roleArn` must be a role
//! that exists, an access entry's `principalArn` a user or role that exists. IAM lives on
//! the AWS side (keks-aws), which hands the control plane this view of it at start.

/// What the control plane may ask IAM.
pub trait Principals: Send + Sync {
    fn role_exists(&self, arn: &str) -> bool;
    /// A user, a role, or the account's root.
    fn principal_exists(&self, arn: &str) -> bool;
}
