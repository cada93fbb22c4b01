//! The settings form: its presets, the query parameters that fill it, and
//! reading it back as `Settings` (or a message naming the wrong field).

use web_sys::{HtmlInputElement, HtmlSelectElement};

use crate::augment::Augment;
use crate::train::{Protocol, Schedule};
use crate::web::wire::{Settings, MAX_WORKERS};
use crate::web::{element, window};

/// The form's presets, the core's `Protocol`s: `fast`, `accurate`, `tutorial`.
pub fn preset(name: &str) -> Option<Settings> {
    match name {
        "tutorial" => Some(Settings::from_protocol(&Protocol::tutorial())),
        "fast" => Some(Settings::from_protocol(&Protocol::fast())),
        "accurate" => Some(Settings::from_protocol(&Protocol::accurate())),
        _ => None,
    }
}

/// The inputs a preset fills (and query parameters of the same names).
pub const FORM_FIELDS: [&str; 7] = ["lr", "momentum", "decay", "batch", "epochs", "seed", "augment"];

/// `#workers`: a whole number from 1 to `MAX_WORKERS`.
pub fn read_workers() -> Result<usize, String> {
    let v = element::<HtmlInputElement>("workers").value();
    match v.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_WORKERS).contains(&n) => Ok(n),
        _ => Err(format!("workers: {v:?} is not a whole number from 1 to {MAX_WORKERS}")),
    }
}

/// One worker per logical core the browser reports.
fn default_workers() -> usize {
    let cores = window().navigator().hardware_concurrency();
    (cores as usize).clamp(1, MAX_WORKERS)
}

/// Query parameters of the form's names fill the form: preset first,
/// then single values over it.
pub fn apply_query(params: &web_sys::UrlSearchParams) {
    let select: HtmlSelectElement = element("preset");
    let name = params.get("preset").unwrap_or_else(|| "fast".into());
    select.set_value(&name);
    fill_form(&preset(&name).unwrap_or_else(|| preset("fast").expect("fast exists")));
    let workers = params.get("workers").unwrap_or_else(|| default_workers().to_string());
    element::<HtmlInputElement>("workers").set_value(&workers);
    for id in FORM_FIELDS {
        if let Some(v) = params.get(id) {
            element::<HtmlInputElement>(id).set_value(&v);
            if preset(&select.value()).is_some() {
                select.set_value("custom");
            }
        }
    }
    if let Some(v) = params.get("schedule") {
        element::<HtmlSelectElement>("schedule").set_value(&v);
        if preset(&select.value()).is_some() {
            select.set_value("custom");
        }
    }
}

pub fn fill_form(s: &Settings) {
    element::<HtmlInputElement>("lr").set_value(&s.learning_rate.to_string());
    element::<HtmlInputElement>("momentum").set_value(&s.momentum.to_string());
    element::<HtmlInputElement>("decay").set_value(&s.lr_decay.to_string());
    element::<HtmlSelectElement>("schedule").set_value(s.schedule.name());
    element::<HtmlInputElement>("batch").set_value(&s.batch_size.to_string());
    element::<HtmlInputElement>("epochs").set_value(&s.epochs.to_string());
    element::<HtmlInputElement>("seed").set_value(&s.seed.to_string());
    element::<HtmlInputElement>("augment").set_value(&s.augment.to_string());
}

/// The form's settings, or a message naming the field that is wrong.
pub fn read_form() -> Result<Settings, String> {
    fn field<T: std::str::FromStr>(id: &str, what: &str) -> Result<T, String> {
        let v = element::<HtmlInputElement>(id).value();
        v.trim().parse().map_err(|_| format!("{what}: {v:?} is not a valid number"))
    }
    Ok(Settings {
        learning_rate: field("lr", "learning rate")?,
        momentum: field("momentum", "momentum")?,
        lr_decay: field("decay", "learning-rate decay")?,
        schedule: {
            let v = element::<HtmlSelectElement>("schedule").value();
            Schedule::from_name(&v).ok_or_else(|| format!("schedule: {v:?} is neither step nor cosine"))?
        },
        batch_size: field("batch", "batch size")?,
        epochs: field("epochs", "epochs")?,
        seed: field("seed", "seed")?,
        augment: Augment::parse(&element::<HtmlInputElement>("augment").value())?,
    })
}
