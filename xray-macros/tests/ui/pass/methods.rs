// `#[capture_method]` on methods: `&self`, `&mut self`, `self`, `self: Box<Self>`, associated
// functions, generic impls, trait impls (sync and `async fn`), and a trait's default method.
#![deny(warnings)]

use std::fmt::Display;

use xray_core::capture_method;

#[derive(Debug, Default, Clone, PartialEq)]
struct Counter {
    count: u32,
    log: Vec<String>,
}

impl Counter {
    #[capture_method]
    fn new() -> Self {
        Self::default()
    }

    #[capture_method]
    fn get(&self) -> u32 {
        self.count
    }

    #[capture_method]
    fn name(&self) -> &str {
        "counter"
    }

    #[capture_method]
    fn bump(&mut self, by: u32) -> Result<u32, String> {
        if by == 0 {
            return Err("nothing to add".to_owned());
        }
        self.count = self.count.checked_add(by).ok_or("overflow")?;
        Ok(self.count)
    }

    #[capture_method]
    fn record(&mut self, line: impl Into<String>) {
        self.log.push(line.into());
    }

    #[capture_method]
    fn into_log(self) -> Vec<String> {
        self.log
    }

    #[capture_method]
    fn boxed(self: Box<Self>) -> u32 {
        self.count
    }

    #[capture_method]
    async fn bump_later(&mut self, by: u32) -> Result<u32, String> {
        tokio::task::yield_now().await;
        self.bump(by)
    }

    #[capture_method]
    async fn peek(&self) -> u32 {
        self.get()
    }

    #[capture_method]
    async fn finish(self) -> usize {
        self.log.len()
    }
}

struct Wrapper<T>(T);

impl<T> Wrapper<T>
where
    T: Display + Clone,
{
    #[capture_method]
    fn show(&self) -> String {
        self.0.to_string()
    }

    #[capture_method]
    fn map<U, F: FnOnce(T) -> U>(self, f: F) -> Wrapper<U> {
        Wrapper(f(self.0))
    }

    #[capture_method]
    async fn cloned(&self) -> T {
        self.0.clone()
    }
}

trait Store {
    fn put(&mut self, key: &str, value: u32) -> Result<(), String>;
    fn get(&self, key: &str) -> Option<u32>;
    async fn load(&self, key: &str) -> Result<u32, String>;

    #[capture_method]
    fn get_or(&self, key: &str, default: u32) -> u32 {
        self.get(key).unwrap_or(default)
    }
}

#[derive(Default)]
struct MemoryStore(Vec<(String, u32)>);

impl Store for MemoryStore {
    #[capture_method]
    fn put(&mut self, key: &str, value: u32) -> Result<(), String> {
        if key.is_empty() {
            return Err("empty key".to_owned());
        }
        self.0.push((key.to_owned(), value));
        Ok(())
    }

    #[capture_method(name = "## MemoryStore::get")]
    fn get(&self, key: &str) -> Option<u32> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    #[capture_method]
    async fn load(&self, key: &str) -> Result<u32, String> {
        let value = self.get(key).ok_or_else(|| format!("no {key}"))?;
        Ok(value)
    }
}

impl Display for Counter {
    #[capture_method(capture_response = false)]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.count)
    }
}

fn main() {
    let mut config = xray_core::Config::default();
    config.context_missing = xray_core::ContextMissing::IgnoreError;
    assert!(xray_core::set_global(xray_core::Tracer::new(config)).is_ok());

    let mut c = Counter::new();
    assert_eq!(c.bump(2), Ok(2));
    assert!(c.bump(0).is_err());
    c.record("one");
    assert_eq!(c.get(), 2);
    assert_eq!(c.name(), "counter");
    assert_eq!(c.to_string(), "2");
    assert_eq!(Box::new(c.clone()).boxed(), 2);

    let w = Wrapper(5);
    assert_eq!(w.show(), "5");
    let w = w.map(|n| n * 2);

    let mut store = MemoryStore::default();
    assert!(store.put("a", 1).is_ok());
    assert!(store.put("", 1).is_err());
    assert_eq!(store.get_or("b", 9), 9);

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(c.bump_later(1).await, Ok(3));
        assert_eq!(c.peek().await, 3);
        assert_eq!(w.cloned().await, 10);
        assert_eq!(store.load("a").await, Ok(1));
        assert!(store.load("b").await.is_err());
        assert_eq!(c.clone().finish().await, 1);
    });
    assert_eq!(c.into_log(), ["one"]);
}
