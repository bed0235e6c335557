//! keks-aws: the AWS side of keks — SigV4 verification, the account and its credentials,
//! IAM users, roles and role sessions, the AWS wire protocols and the service front ends
//! (STS, IAM, EC2, Auto Scaling, EKS).

pub mod account;
pub mod autoscaling;
pub mod ec2;
pub mod eks;
pub mod eks_token;
pub mod front;
pub mod iam;
pub mod query;
pub mod sigv4;
pub mod sts;

pub use account::{Account, AccountError, Principal, PrincipalKind};
pub use front::{AwsFront, HttpRequest, Response};
pub use iam::{Credential, Iam, IamError, LookupError};
pub mod rest_json;
