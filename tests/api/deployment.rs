//! The Dockerfile and docker-compose.yml state their environment and keep the metrics
//! listener internal. Read as text: a line-by-line look is enough for these two files.

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{}/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The Dockerfile's instructions, comments dropped and continued lines joined.
fn instructions(dockerfile: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    out
}

#[test]
fn the_image_runs_as_production_and_exposes_only_the_api_port() {
    let instructions = instructions(&read("Dockerfile"));
    // The final stage is what runs.
    let last_from = instructions
        .iter()
        .rposition(|i| i.starts_with("FROM "))
        .unwrap();
    let stage = &instructions[last_from..];
    let env_sets = |assignment: &str| {
        stage
            .iter()
            .filter(|i| i.starts_with("ENV "))
            .any(|i| i.split_whitespace().any(|word| word == assignment))
    };
    assert!(env_sets("APP_ENV=production"), "{stage:#?}");
    let exposed: Vec<&str> = stage
        .iter()
        .filter_map(|i| i.strip_prefix("EXPOSE "))
        .flat_map(str::split_whitespace)
        .collect();
    assert_eq!(exposed, ["8000"]);
}

#[test]
fn compose_states_its_environment_and_never_publishes_the_metrics_port() {
    let compose = read("docker-compose.yml");
    let lines: Vec<&str> = compose
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    let app_env: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.trim().strip_prefix("APP_ENV:"))
        .map(str::trim)
        .collect();
    assert_eq!(app_env, ["development"], "APP_ENV is stated, not inherited");

    // Every line of every `ports:` block (short or long syntax, or inline).
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut published = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim().strip_prefix("ports:") else {
            continue;
        };
        published.push(rest.to_owned());
        published.extend(
            lines[at + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || indent(l) > indent(line))
                .map(|l| l.trim().to_owned()),
        );
    }
    assert!(
        published.iter().any(|p| p.contains("8000")),
        "{published:?}"
    );
    assert!(
        !published.iter().any(|p| p.contains("9100")),
        "the metrics port is published: {published:?}"
    );
}

#[test]
fn compose_gives_the_worker_time_to_finish_the_mail_it_holds() {
    let compose = read("docker-compose.yml");
    let worker: Vec<&str> = compose
        .lines()
        .skip_while(|l| *l != "  worker:")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with("   "))
        .collect();
    let grace = worker
        .iter()
        .find_map(|l| l.trim().strip_prefix("stop_grace_period:"))
        .map(|v| authql::config::parse_duration(v.trim()).expect("a duration"))
        .expect("the worker states its stop_grace_period");
    assert!(
        grace > authql::worker::WORKER_SHUTDOWN_GRACE,
        "compose stops the worker after {grace:?}, before its {:?} drain",
        authql::worker::WORKER_SHUTDOWN_GRACE
    );
}

#[test]
fn compose_hands_every_setting_of_dot_env_to_api_and_worker() {
    let compose = read("docker-compose.yml");
    let anchor: Vec<&str> = compose
        .lines()
        .skip_while(|l| !l.starts_with("x-authql:"))
        .take_while(|l| !l.starts_with("services:"))
        .map(str::trim)
        .collect();
    // The short form: compose v1, still packaged by Debian, refuses the long one.
    assert!(
        anchor.contains(&"env_file: .env"),
        "the shared service settings read .env: {anchor:#?}"
    );
    for service in ["api:", "worker:"] {
        let body: Vec<&str> = compose
            .lines()
            .skip_while(|l| l.trim() != service)
            .skip(1)
            .take_while(|l| l.is_empty() || l.starts_with("   "))
            .collect();
        assert!(
            body.iter().any(|l| l.trim() == "<<: *authql"),
            "{service} shares the settings: {body:#?}"
        );
    }
}

#[test]
fn compose_runs_a_maintained_rabbitmq() {
    let compose = read("docker-compose.yml");
    let image = compose
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| l.trim().strip_prefix("image: rabbitmq:"))
        .expect("a rabbitmq image");
    // 3.13 and older are out of community support; the main queue's delivery limit and
    // dead-letter arguments are declared for 4.x (and still accepted by 3.13).
    let major: u32 = image
        .split(['.', '-'])
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("a pinned version, not {image:?}"));
    assert!(major >= 4, "rabbitmq:{image}");
}
