//! EC2's launch template actions over [`keks_cloud::LaunchTemplates`]: CreateLaunchTemplate,
//! CreateLaunchTemplateVersion, DescribeLaunchTemplates, DeleteLaunchTemplate (templates
//! carry their name, versions and each version's instance type).

use keks_cloud::{LaunchTemplate, LaunchTemplateError, LaunchTemplates, Tag};

use super::{Ec2Error, QueryRequest};
use crate::query::xml_escape;

fn ec2_error(e: &LaunchTemplateError) -> Ec2Error {
    let mut err = Ec2Error::new(e.code(), e.to_string());
    if e.code() == "InternalError" {
        err.status = 500;
    }
    err
}

fn timestamp(unix: f64) -> String {
    crate::autoscaling::xml_timestamp(unix)
}

fn template_xml(t: &LaunchTemplate, account: &str) -> String {
    let tags: String = t
        .tags
        .iter()
        .map(|t| {
            format!(
                "<item><key>{}</key><value>{}</value></item>",
                xml_escape(&t.key),
                xml_escape(&t.value)
            )
        })
        .collect();
    let tags = if tags.is_empty() {
        String::new()
    } else {
        format!("<tagSet>{tags}</tagSet>")
    };
    format!(
        "<launchTemplateId>{}</launchTemplateId><launchTemplateName>{}</launchTemplateName><createTime>{}</createTime><createdBy>arn:aws:iam::{account}:root</createdBy><defaultVersionNumber>{}</defaultVersionNumber><latestVersionNumber>{}</latestVersionNumber>{tags}",
        t.id,
        xml_escape(&t.name),
        timestamp(t.create_time),
        t.default_version,
        t.latest_version()
    )
}

fn tags_for(req: &QueryRequest, resource: &str) -> Vec<Tag> {
    let mut tags = Vec::new();
    for i in 1.. {
        let Some(kind) = req.get(&format!("TagSpecification.{i}.ResourceType")) else {
            break;
        };
        if kind == resource {
            tags.extend(
                req.tags(&format!("TagSpecification.{i}.Tag"))
                    .into_iter()
                    .map(|(k, v)| Tag::new(k, v)),
            );
        }
    }
    tags
}

pub(super) async fn create(
    lts: &LaunchTemplates,
    account: &str,
    now: f64,
    req: &QueryRequest,
) -> Result<String, Ec2Error> {
    let name = req.get("LaunchTemplateName").ok_or_else(|| {
        Ec2Error::new(
            "MissingParameter",
            "The request must contain the parameter LaunchTemplateName",
        )
    })?;
    let template = lts
        .create(
            name,
            req.get("LaunchTemplateData.InstanceType")
                .map(str::to_string),
            req.get("VersionDescription").map(str::to_string),
            tags_for(req, "launch-template"),
            now,
        )
        .await
        .map_err(|e| ec2_error(&e))?;
    Ok(format!(
        "<launchTemplate>{}</launchTemplate>",
        template_xml(&template, account)
    ))
}

pub(super) async fn create_version(
    lts: &LaunchTemplates,
    account: &str,
    now: f64,
    req: &QueryRequest,
) -> Result<String, Ec2Error> {
    let (template, version) = lts
        .create_version(
            req.get("LaunchTemplateId"),
            req.get("LaunchTemplateName"),
            req.get("SourceVersion"),
            req.get("LaunchTemplateData.InstanceType")
                .map(str::to_string),
            req.get("VersionDescription").map(str::to_string),
            now,
        )
        .await
        .map_err(|e| ec2_error(&e))?;
    let data = version
        .instance_type
        .as_ref()
        .map(|t| format!("<instanceType>{t}</instanceType>"))
        .unwrap_or_default();
    let description = version
        .description
        .as_ref()
        .map(|d| format!("<versionDescription>{}</versionDescription>", xml_escape(d)))
        .unwrap_or_default();
    Ok(format!(
        "<launchTemplateVersion><launchTemplateId>{}</launchTemplateId><launchTemplateName>{}</launchTemplateName><versionNumber>{}</versionNumber>{description}<createTime>{}</createTime><createdBy>arn:aws:iam::{account}:root</createdBy><defaultVersion>{}</defaultVersion><launchTemplateData>{data}</launchTemplateData></launchTemplateVersion>",
        template.id,
        xml_escape(&template.name),
        version.number,
        timestamp(version.create_time),
        version.number == template.default_version
    ))
}

pub(super) fn describe(
    lts: &LaunchTemplates,
    account: &str,
    req: &QueryRequest,
) -> Result<String, Ec2Error> {
    let ids = req.list("LaunchTemplateId");
    let names = req.list("LaunchTemplateName");
    for id in &ids {
        lts.find(Some(id), None).map_err(|e| ec2_error(&e))?;
    }
    for name in &names {
        lts.find(None, Some(name)).map_err(|e| ec2_error(&e))?;
    }
    let items: String = lts
        .list()
        .iter()
        .filter(|t| {
            (ids.is_empty() && names.is_empty())
                || ids.contains(&t.id.as_str())
                || names.contains(&t.name.as_str())
        })
        .map(|t| format!("<item>{}</item>", template_xml(t, account)))
        .collect();
    Ok(format!("<launchTemplates>{items}</launchTemplates>"))
}

pub(super) async fn delete(
    lts: &LaunchTemplates,
    account: &str,
    req: &QueryRequest,
) -> Result<String, Ec2Error> {
    let template = lts
        .delete(req.get("LaunchTemplateId"), req.get("LaunchTemplateName"))
        .await
        .map_err(|e| ec2_error(&e))?;
    Ok(format!(
        "<launchTemplate>{}</launchTemplate>",
        template_xml(&template, account)
    ))
}
