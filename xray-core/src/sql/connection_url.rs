//! What a database URL says about the database, with the password left out.

/// The parts of a database URL X-Ray records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UrlFacts {
    /// The URL without password (in user info or in `password=` parameters).
    pub(crate) url: String,
    pub(crate) user: String,
    /// `<database>@<host>` (SQLite: the file name).
    pub(crate) name: String,
}

/// Reads `url` (`postgres://user:pw@host:5432/db?sslmode=…`, `sqlite:///tmp/orders.db`,
/// `sqlite::memory:`); never fails: what is not understood is kept out of the facts.
pub(crate) fn url_facts(url: &str) -> UrlFacts {
    let (scheme, rest) = url.split_once(':').unwrap_or(("", url));
    let (body, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let mut facts = UrlFacts::default();
    let mut clean = String::with_capacity(url.len());
    clean.push_str(scheme);
    clean.push(':');
    if let Some(after) = body.strip_prefix("//") {
        let (authority, path) = after.split_at(after.find('/').unwrap_or(after.len()));
        let host = match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
                user.clone_into(&mut facts.user);
                clean.push_str("//");
                clean.push_str(user);
                clean.push('@');
                host
            }
            None => {
                clean.push_str("//");
                authority
            }
        };
        clean.push_str(host);
        clean.push_str(path);
        let host_name = host.rsplit_once(':').map_or(host, |(h, _)| h);
        let db = path.trim_start_matches('/');
        facts.name = if scheme.starts_with("sqlite") {
            file_name(path)
        } else if host_name.is_empty() {
            db.to_owned()
        } else if db.is_empty() {
            host_name.to_owned()
        } else {
            format!("{db}@{host_name}")
        };
    } else {
        clean.push_str(body);
        facts.name = file_name(body);
    }
    if let Some(q) = query {
        let mut first = true;
        for pair in q.split('&') {
            let key = pair.split_once('=').map_or(pair, |(k, _)| k);
            if key.eq_ignore_ascii_case("password") || key.eq_ignore_ascii_case("passwd") {
                continue;
            }
            if key.eq_ignore_ascii_case("user") && facts.user.is_empty() {
                pair.split_once('=')
                    .map_or("", |(_, v)| v)
                    .clone_into(&mut facts.user);
            }
            clean.push(if first { '?' } else { '&' });
            first = false;
            clean.push_str(pair);
        }
    }
    facts.url = clean;
    facts
}

fn file_name(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.is_empty() || name == ":memory:" {
        "sqlite".to_owned()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::url_facts;

    #[test]
    fn passwords_are_left_out() {
        let f =
            url_facts("postgres://app:s3cret@db.internal:5432/orders?sslmode=disable&password=x");
        assert_eq!(
            f.url,
            "postgres://app@db.internal:5432/orders?sslmode=disable"
        );
        assert_eq!(f.user, "app");
        assert_eq!(f.name, "orders@db.internal");
        let f = url_facts("sqlite:///tmp/x/orders.db?mode=rwc");
        assert_eq!(f.url, "sqlite:///tmp/x/orders.db?mode=rwc");
        assert_eq!(f.name, "orders.db");
        assert_eq!(url_facts("sqlite::memory:").name, "sqlite");
        let f = url_facts("postgresql://localhost/app?user=me&password=pw");
        assert_eq!(
            (f.url.as_str(), f.user.as_str()),
            ("postgresql://localhost/app?user=me", "me")
        );
    }
}
