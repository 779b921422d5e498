//! What a service's segments say about the host: `origin`, `aws.ecs` and `aws.ec2`.
//!
//! Detected once, when a [`ServiceTracer`](super::service::ServiceTracer) is built, from
//! environment variables and a few small local files. No network call is ever made: the EC2
//! instance metadata service is not queried (it can take seconds to time out off EC2, and a
//! blocked hop limit in containers makes it hang), so facts only it knows, such as the
//! availability zone, are given with [`HostFacts::with_ec2`].

/// The `origin` of a service running in an ECS task (EC2 or Fargate launch type).
pub const ORIGIN_ECS_CONTAINER: &str = "AWS::ECS::Container";

/// The `origin` of a service running on an EC2 instance.
pub const ORIGIN_EC2_INSTANCE: &str = "AWS::EC2::Instance";

/// Files read to recognise an EC2 instance without the network: Nitro instances expose the
/// instance id as the board asset tag and `Amazon EC2` as the vendor; Xen instances have a
/// hypervisor UUID starting with `ec2`. All are world-readable.
const DMI_BOARD_ASSET_TAG: &str = "/sys/devices/virtual/dmi/id/board_asset_tag";
const DMI_SYS_VENDOR: &str = "/sys/devices/virtual/dmi/id/sys_vendor";
const XEN_UUID: &str = "/sys/hypervisor/uuid";

/// Where the host name comes from, in order, after the `HOSTNAME` variable (which Docker and
/// ECS set in every container).
const HOSTNAME_FILES: [&str; 2] = ["/proc/sys/kernel/hostname", "/etc/hostname"];

/// The host fields written on every service segment. Empty fields are left out.
///
/// ```
/// use xray_core::service::{HostFacts, ORIGIN_EC2_INSTANCE, ORIGIN_ECS_CONTAINER};
///
/// // What `detect` finds in an ECS task (the lookups stand in for the environment and files).
/// let env = |k: &str| match k {
///     "ECS_CONTAINER_METADATA_URI_V4" => Some("http://169.254.170.2/v4/abc".to_owned()),
///     "HOSTNAME" => Some("ip-10-0-1-7.ec2.internal".to_owned()),
///     _ => None,
/// };
/// let facts = HostFacts::detect_with(env, |_| None);
/// assert_eq!(facts.origin, ORIGIN_ECS_CONTAINER);
/// assert_eq!(facts.ecs_container, "ip-10-0-1-7.ec2.internal");
///
/// // EC2 facts the metadata service knows are given by hand; the ECS origin is kept.
/// let facts = facts.with_ec2("i-0b5a4678fc325bg98", "us-west-2c");
/// assert_eq!(facts.origin, ORIGIN_ECS_CONTAINER);
/// assert_eq!(facts.ec2_availability_zone, "us-west-2c");
///
/// // Off AWS nothing is found.
/// let none = HostFacts::detect_with(|_| None, |_| None);
/// assert_eq!(none, HostFacts::default());
/// assert_eq!(none.with_ec2("i-0123abcd", "").origin, ORIGIN_EC2_INSTANCE);
/// ```
///
/// Not `#[non_exhaustive]` on purpose: callers build it with a struct literal and
/// `..HostFacts::default()`, which that attribute forbids outside this crate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// `origin`: [`ORIGIN_ECS_CONTAINER`], [`ORIGIN_EC2_INSTANCE`], or any other type X-Ray
    /// knows (`AWS::ElasticBeanstalk::Environment`, `AWS::EKS::Container`, …).
    pub origin: String,
    /// `aws.ecs.container`: the container's host name.
    pub ecs_container: String,
    /// `aws.ec2.instance_id`.
    pub ec2_instance_id: String,
    /// `aws.ec2.availability_zone`.
    pub ec2_availability_zone: String,
}

impl HostFacts {
    /// Looks at the process environment and local files (see [`HostFacts::detect_with`]).
    pub fn detect() -> HostFacts {
        HostFacts::detect_with(
            |k| std::env::var(k).ok(),
            |path| std::fs::read_to_string(path).ok(),
        )
    }

    /// Detects the host through `env` (variable lookup) and `read` (small file reads):
    ///
    /// - `ECS_CONTAINER_METADATA_URI_V4` or `ECS_CONTAINER_METADATA_URI` set: an ECS
    ///   container (ECS on EC2 and Fargate alike); `aws.ecs.container` is the host name
    ///   (`HOSTNAME`, else `/proc/sys/kernel/hostname`, else `/etc/hostname`).
    /// - otherwise, the DMI vendor `Amazon EC2`, an instance id as the DMI board asset tag,
    ///   or a Xen hypervisor UUID starting with `ec2`: an EC2 instance, with the instance id
    ///   when the asset tag holds one.
    /// - otherwise nothing.
    pub fn detect_with(
        env: impl Fn(&str) -> Option<String>,
        read: impl Fn(&str) -> Option<String>,
    ) -> HostFacts {
        let mut facts = HostFacts::default();
        let set = |k: &str| env(k).is_some_and(|v| !v.trim().is_empty());
        if set("ECS_CONTAINER_METADATA_URI_V4") || set("ECS_CONTAINER_METADATA_URI") {
            ORIGIN_ECS_CONTAINER.clone_into(&mut facts.origin);
            let from_env = env("HOSTNAME").filter(|h| !h.trim().is_empty());
            let name = from_env.or_else(|| {
                HOSTNAME_FILES
                    .iter()
                    .find_map(|p| read(p).filter(|h| !h.trim().is_empty()))
            });
            if let Some(name) = name {
                name.trim().clone_into(&mut facts.ecs_container);
            }
            return facts;
        }
        let asset_tag = read(DMI_BOARD_ASSET_TAG).unwrap_or_default();
        let asset_tag = asset_tag.trim();
        let vendor = read(DMI_SYS_VENDOR).unwrap_or_default();
        let xen = read(XEN_UUID).unwrap_or_default();
        if is_instance_id(asset_tag) {
            asset_tag.clone_into(&mut facts.ec2_instance_id);
        }
        if !facts.ec2_instance_id.is_empty()
            || vendor.trim() == "Amazon EC2"
            || xen.trim().to_ascii_lowercase().starts_with("ec2")
        {
            ORIGIN_EC2_INSTANCE.clone_into(&mut facts.origin);
        }
        facts
    }

    /// Adds the EC2 instance id and availability zone (from the instance metadata service,
    /// say, or the deployment's configuration); empty arguments are skipped. The origin
    /// becomes [`ORIGIN_EC2_INSTANCE`] unless one is already known (ECS on EC2 stays an ECS
    /// container, as in the other SDKs).
    #[must_use]
    pub fn with_ec2(mut self, instance_id: &str, availability_zone: &str) -> HostFacts {
        if !instance_id.is_empty() {
            instance_id.clone_into(&mut self.ec2_instance_id);
        }
        if !availability_zone.is_empty() {
            availability_zone.clone_into(&mut self.ec2_availability_zone);
        }
        if self.origin.is_empty() {
            ORIGIN_EC2_INSTANCE.clone_into(&mut self.origin);
        }
        self
    }

    /// Sets the origin (`AWS::EKS::Container`, `AWS::ElasticBeanstalk::Environment`, …).
    #[must_use]
    pub fn with_origin(mut self, origin: &str) -> HostFacts {
        origin.clone_into(&mut self.origin);
        self
    }
}

/// `i-` then 8 or 17 lowercase hex digits.
fn is_instance_id(s: &str) -> bool {
    s.strip_prefix("i-").is_some_and(|hex| {
        matches!(hex.len(), 8 | 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(env: &[(&str, &str)], files: &[(&str, &str)]) -> HostFacts {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let files: Vec<(String, String)> = files
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        HostFacts::detect_with(
            |k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
            |p| files.iter().find(|(n, _)| n == p).map(|(_, v)| v.clone()),
        )
    }

    #[test]
    fn nothing_off_aws() {
        assert_eq!(detect(&[], &[]), HostFacts::default());
        assert_eq!(
            detect(
                &[("ECS_CONTAINER_METADATA_URI", "  ")],
                &[(DMI_SYS_VENDOR, "QEMU\n"), (DMI_BOARD_ASSET_TAG, "i-xyz")]
            ),
            HostFacts::default()
        );
    }

    #[test]
    fn ecs_takes_the_host_name_from_the_environment_then_files() {
        let f = detect(
            &[("ECS_CONTAINER_METADATA_URI", "http://169.254.170.2/v3/x")],
            &[
                ("/proc/sys/kernel/hostname", "task-1\n"),
                (DMI_SYS_VENDOR, "Amazon EC2"),
            ],
        );
        assert_eq!(f.origin, ORIGIN_ECS_CONTAINER);
        assert_eq!(f.ecs_container, "task-1");
        assert!(f.ec2_instance_id.is_empty());
        let f = detect(
            &[("ECS_CONTAINER_METADATA_URI_V4", "x"), ("HOSTNAME", "")],
            &[("/etc/hostname", " c-2 \n")],
        );
        assert_eq!(f.ecs_container, "c-2");
        let f = detect(&[("ECS_CONTAINER_METADATA_URI_V4", "x")], &[]);
        assert_eq!(
            (f.origin.as_str(), f.ecs_container.as_str()),
            (ORIGIN_ECS_CONTAINER, "")
        );
    }

    #[test]
    fn ec2_from_local_files() {
        let f = detect(&[], &[(DMI_BOARD_ASSET_TAG, "i-0123456789abcdef0\n")]);
        assert_eq!(f.origin, ORIGIN_EC2_INSTANCE);
        assert_eq!(f.ec2_instance_id, "i-0123456789abcdef0");
        let f = detect(&[], &[(DMI_SYS_VENDOR, "Amazon EC2\n")]);
        assert_eq!(
            (f.origin.as_str(), f.ec2_instance_id.as_str()),
            (ORIGIN_EC2_INSTANCE, "")
        );
        let f = detect(&[], &[(XEN_UUID, "EC2E1916-9099-7CAF-FD21-012345ABCDEF")]);
        assert_eq!(f.origin, ORIGIN_EC2_INSTANCE);
    }

    #[test]
    fn instance_ids() {
        assert!(is_instance_id("i-0123abcd"));
        assert!(is_instance_id("i-0123456789abcdef0"));
        for bad in [
            "",
            "i-",
            "i-0123ABCD",
            "i-0123abc",
            "x-0123abcd",
            "i-0123abcdé",
        ] {
            assert!(!is_instance_id(bad), "{bad}");
        }
    }

    #[test]
    fn explicit_facts() {
        let f = HostFacts::default().with_ec2("", "");
        assert_eq!(f.origin, ORIGIN_EC2_INSTANCE);
        let f = HostFacts::default()
            .with_origin("AWS::EKS::Container")
            .with_ec2("i-0123abcd", "eu-west-1a");
        assert_eq!(f.origin, "AWS::EKS::Container");
        assert_eq!(f.ec2_instance_id, "i-0123abcd");
    }
}
