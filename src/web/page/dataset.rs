//! The page's data set, MNIST or Fashion-MNIST (`#dataset`,
//! `?dataset=mnist|fashion`): chosen once at start-up, it decides where
//! the worker downloads from, which pretrained model the pad reads with,
//! and the names of the ten classes wherever the page shows one.
//! Switching reloads the page with the other in its address, so that
//! nothing of one data set (a model, a run, a gallery) outlives the switch.

use std::cell::Cell;

use web_sys::{HtmlElement, HtmlSelectElement, UrlSearchParams};

use super::app::with_app;
use super::status::show_error;
use crate::data::Collection;
use crate::web::{element, listen, window};

thread_local! {
    static COLLECTION: Cell<Collection> = const { Cell::new(Collection::Mnist) };
}

/// The page's data set.
pub fn collection() -> Collection {
    COLLECTION.with(Cell::get)
}

/// The name of class `label` in the page's data set.
pub fn class_name(label: usize) -> &'static str {
    collection().classes()[label]
}

/// Reads `?dataset=`, labels the page for it, and returns where its
/// files are below the data folder (`data_url`, ending in '/').
pub fn choose(params: &UrlSearchParams, data_url: &str) -> String {
    let chosen = match params.get("dataset") {
        None => Collection::Mnist,
        Some(name) => Collection::parse(&name).unwrap_or_else(|| {
            show_error(&format!("?dataset={name}: no such data set (mnist or fashion); showing MNIST"));
            Collection::Mnist
        }),
    };
    COLLECTION.with(|c| c.set(chosen));
    let _ = element::<HtmlElement>("status").set_attribute("data-dataset", chosen.name());
    element::<HtmlSelectElement>("dataset").set_value(chosen.name());
    label_page(chosen);
    let select: HtmlSelectElement = element("dataset");
    listen(&select, "change", |_: web_sys::Event| switch());
    files_below(data_url)
}

/// Where the page's data set is below the data folder `data_url`: beside
/// MNIST's files, Fashion-MNIST's are in `fashion-mnist/`.
pub fn files_below(data_url: &str) -> String {
    match collection() {
        Collection::Mnist => data_url.to_string(),
        Collection::Fashion => format!("{data_url}fashion-mnist/"),
    }
}

/// The page's words for a data set: the drawing's title, the class names
/// beside the probability bars. Teaching the model your own handwriting
/// is for digits: its section shows on MNIST alone.
fn label_page(c: Collection) {
    let (title, what) = match c {
        Collection::Mnist => ("Draw a digit", "draw a digit"),
        Collection::Fashion => ("Draw a piece of clothing", "draw a piece of clothing: a trouser, a shirt, a bag, a shoe"),
    };
    element::<HtmlElement>("draw-title").set_text_content(Some(title));
    let _ = element::<HtmlElement>("pad").set_attribute("aria-label", &format!("drawing pad: {what} with a mouse, a pen or a finger"));
    for (label, name) in c.classes().iter().enumerate() {
        element::<HtmlElement>(&format!("class{label}")).set_text_content(Some(name));
    }
    element::<HtmlElement>("teach").set_hidden(c != Collection::Mnist);
    let _ = element::<HtmlElement>("prediction").class_list().toggle_with_force("names", c != Collection::Mnist);
    let heading = match c {
        Collection::Mnist => "LeNet-5 learns MNIST, in your browser",
        Collection::Fashion => "LeNet-5 learns Fashion-MNIST, in your browser",
    };
    if let Some(h1) = crate::web::document().query_selector("h1").ok().flatten() {
        h1.set_text_content(Some(heading));
    }
}

/// `#dataset` changed: the page again, with the other data set in its
/// address. Not while a run trains: the select goes back, and says why.
fn switch() {
    let select: HtmlSelectElement = element("dataset");
    if with_app(|app| app.state.in_run()) {
        select.set_value(collection().name());
        return show_error("a run is in progress: stop it before switching the data set");
    }
    let location = window().location();
    let params = UrlSearchParams::new_with_str(&location.search().unwrap_or_default()).expect("a query string parses");
    params.set("dataset", &select.value());
    let _ = location.set_search(&String::from(params.to_string()));
}
