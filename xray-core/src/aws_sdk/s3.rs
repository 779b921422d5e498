//! S3's `bucket_name` and `key`, read from the request URI (never from the body, which is the
//! object itself). The SDK addresses a bucket either in the path (`/bucket/key`, path-style)
//! or in the host (`bucket.s3.us-east-1.amazonaws.com/key`, virtual-hosted); which one it
//! chose is seen by comparing the request's host with the endpoint it was configured with.

use std::borrow::Cow;

use super::wire::percent_decode_path;

/// Where an S3 request points.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct S3Location<'a> {
    pub(crate) bucket: Option<&'a str>,
    pub(crate) key: Option<Cow<'a, str>>,
}

/// The bucket and key of the S3 request to `uri`, given the client's configured endpoint URL
/// (`None` for AWS's own endpoints).
pub(crate) fn s3_location<'a>(uri: &'a str, endpoint: Option<&str>) -> S3Location<'a> {
    let (host, path) = host_and_path(uri);
    let mut path = path;
    let bucket_in_host = match endpoint {
        Some(endpoint) => {
            let (endpoint_host, endpoint_path) = host_and_path(endpoint);
            // An endpoint with a path prefix (`http://gateway/s3`) keeps it in front of the
            // bucket.
            if let Some(rest) = path.strip_prefix(endpoint_path.trim_end_matches('/')) {
                path = rest;
            }
            // The SDK put the bucket in front of the endpoint's host exactly when it chose
            // virtual hosting.
            host.strip_suffix(endpoint_host)
                .and_then(|b| b.strip_suffix('.'))
        }
        None => aws_host_bucket(host),
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    let (bucket, key) = match bucket_in_host {
        Some(bucket) => (bucket, path),
        None => path.split_once('/').unwrap_or((path, "")),
    };
    S3Location {
        bucket: Some(bucket).filter(|b| !b.is_empty()),
        key: Some(key)
            .filter(|k| !k.is_empty())
            .map(|k| percent_decode_path(k.as_bytes())),
    }
}

/// `bucket.s3.region.amazonaws.com`, `bucket.s3-accelerate.amazonaws.com`,
/// `bucket--zone--x-s3.s3express-zone.region.amazonaws.com`: the bucket is everything before
/// the last `s3` label (bucket names may themselves hold dots). `s3.region.amazonaws.com`
/// has none: path-style.
fn aws_host_bucket(host: &str) -> Option<&str> {
    let at = [".s3.", ".s3-", ".s3express-"]
        .iter()
        .filter_map(|label| host.rfind(label))
        .max()?;
    Some(&host[..at]).filter(|b| !b.is_empty())
}

/// The host (no port, no user info) and the path (no query, no fragment) of `uri`.
fn host_and_path(uri: &str) -> (&str, &str) {
    let rest = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let path = tail.split(['?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let host = if host.starts_with('[') {
        // An IPv6 literal: its colons are not a port.
        host.find(']').map_or(host, |i| &host[..=i])
    } else {
        host.split(':').next().unwrap_or(host)
    };
    (host, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(uri: &str, endpoint: Option<&str>) -> (Option<String>, Option<String>) {
        let l = s3_location(uri, endpoint);
        (l.bucket.map(str::to_owned), l.key.map(Cow::into_owned))
    }

    #[test]
    fn path_style_on_a_custom_endpoint() {
        let ep = Some("http://127.0.0.1:4566");
        assert_eq!(
            loc(
                "http://127.0.0.1:4566/photos/2024/a%20b+c.jpg?x-id=PutObject",
                ep
            ),
            (Some("photos".into()), Some("2024/a b+c.jpg".to_owned()))
        );
        assert_eq!(
            loc("http://127.0.0.1:4566/photos", ep),
            (Some("photos".into()), None)
        );
        assert_eq!(
            loc("http://127.0.0.1:4566/photos?list-type=2", ep),
            (Some("photos".into()), None)
        );
        assert_eq!(loc("http://127.0.0.1:4566/", ep), (None, None));
        assert_eq!(
            loc("http://gw:9000/s3/photos/k", Some("http://gw:9000/s3/")),
            (Some("photos".into()), Some("k".to_owned()))
        );
    }

    #[test]
    fn virtual_hosted_on_a_custom_endpoint() {
        let ep = Some("http://localhost:4566");
        assert_eq!(
            loc("http://photos.localhost:4566/dir/k?x-id=GetObject", ep),
            (Some("photos".into()), Some("dir/k".to_owned()))
        );
        assert_eq!(
            loc("http://my.dotted.bucket.localhost:4566/", ep),
            (Some("my.dotted.bucket".into()), None)
        );
    }

    #[test]
    fn aws_endpoints() {
        assert_eq!(
            loc("https://photos.s3.us-east-1.amazonaws.com/k", None),
            (Some("photos".into()), Some("k".to_owned()))
        );
        assert_eq!(
            loc(
                "https://my.s3-data.s3.dualstack.eu-west-1.amazonaws.com/a/b",
                None
            ),
            (Some("my.s3-data".into()), Some("a/b".to_owned()))
        );
        assert_eq!(
            loc("https://photos.s3-accelerate.amazonaws.com/k", None),
            (Some("photos".into()), Some("k".to_owned()))
        );
        assert_eq!(
            loc("https://s3.us-east-1.amazonaws.com/photos/k", None),
            (Some("photos".into()), Some("k".to_owned()))
        );
        assert_eq!(
            loc("https://s3.us-east-1.amazonaws.com/?x-id=ListBuckets", None),
            (None, None)
        );
        assert_eq!(host_and_path("http://u@[::1]:80/p?q"), ("[::1]", "/p"));
    }
}
