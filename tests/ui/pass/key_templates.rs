//! Key templates name parameters and field paths; `{{`/`}}` are literal braces (hash tags).

use redis_trace::redis_traced;

struct Tenant {
    name: String,
}

struct Repo {
    tenant: Tenant,
}

impl Repo {
    #[redis_traced(op = "GET", key = "{{{self.tenant.name}}}:user:{id}:profile")]
    fn profile(&self, id: u64) -> Option<String> {
        Some(format!("{{{}}}:user:{id}:profile", self.tenant.name))
    }

    #[redis_traced(op = "MGET", keys = ["user:{first}", "user:{ second }"])]
    async fn pair(&self, first: &str, second: u64) -> Vec<Option<String>> {
        vec![Some(first.to_owned()), Some(second.to_string())]
    }
}

fn main() {
    let repo = Repo {
        tenant: Tenant {
            name: "acme".to_owned(),
        },
    };
    assert_eq!(repo.profile(7).as_deref(), Some("{acme}:user:7:profile"));
    let _ = repo.pair("a", 2);
}
