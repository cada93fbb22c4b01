//! The browser shell's pieces, in a real browser (`wasm-pack test`): the
//! messages, the lead driving a trainer over helpers on message channels
//! (bit for bit as the synchronous driver), the chart's data model and
//! drawing, and the pad's ink extraction feeding the core's preprocessing.
#![cfg(target_arch = "wasm32")]

use lenet::train::log::format_duration;
use lenet::web::helper;
use lenet::web::js::*;
use lenet::web::lead::{Lead, Link};
use lenet::web::page::chart::{draw, figures_rows, nice_ticks, thin, y_range, ChartData, DARK, LIGHT};
use lenet::web::page::{form, pad};
use lenet::web::wire::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use web_sys::HtmlCanvasElement;

wasm_bindgen_test_configure!(run_in_browser);

mod common;

fn settings() -> Settings {
    Settings {
        learning_rate: 0.05,
        momentum: 0.5,
        lr_decay: 0.8,
        schedule: lenet::train::Schedule::Cosine,
        batch_size: 20,
        epochs: 3,
        seed: 7,
        augment: lenet::augment::Augment { rotate: 10.0, stroke: 1.0, ..lenet::augment::Augment::NONE },
    }
}

#[wasm_bindgen_test]
fn every_message_survives_the_trip() {
    let to_worker = [
        ToWorker::Load { data_url: "data/".into(), workers: 2 },
        ToWorker::Start { settings: settings(), data_url: "https://example.test/mnist/".into(), workers: 3 },
        ToWorker::Restore { data_url: "data/".into(), workers: 2 },
        ToWorker::Keep { name: "lenet5-run.checkpoint.safetensors".into(), workers: 2 },
        ToWorker::Forget,
        ToWorker::SendRun,
        ToWorker::Learn { id: 3, labels: vec![1, 7, 1] },
        ToWorker::Evaluate { id: 7 },
        ToWorker::Images { indices: vec![0, 9_999, 42] },
        ToWorker::Serve,
        ToWorker::Pause,
        ToWorker::Resume,
        ToWorker::Stop,
        ToWorker::Crash,
    ];
    for m in to_worker {
        assert_eq!(decode::<ToWorker>(encode(&m)).unwrap(), m);
        assert_eq!(unpack::<ToWorker>(&pack(&m, None).0).unwrap().0, m);
    }
    let progress = Progress {
        epoch: 2,
        epochs: 3,
        minibatch: 40,
        batches_per_epoch: 2500,
        iterations: 2540,
        costs: vec![(2538, 0.25), (2539, 0.125)],
        validations: vec![(1, 2.46)],
        tests: vec![(1, 2.5)],
        log: vec!["epoch 1, minibatch 2500/2500, validation error 2.46 %".into()],
        images_per_second: 1234.5,
        elapsed: 61.0,
        best_validation: Some(2.46),
        test_score: None,
        evaluating: Some("test 600/10000".into()),
        steps: StepTimes {
            steps: 3,
            images: 750,
            own: 420.5,
            helpers: 400.25,
            handling: 6.0,
            wait: 20.0,
            in_flight: 1.5,
            taking: 2.5,
            rest: 3.0,
            evaluating: 250.0,
        },
    };
    let from_worker = [
        FromWorker::Ready,
        FromWorker::Download { file: "t10k-labels-idx1-ubyte.gz".into(), loaded: 100.0, total: None },
        FromWorker::DataReady { train: 50_000, valid: 10_000, test: 10_000 },
        FromWorker::Progress(Box::new(progress)),
        FromWorker::Weights { best: true },
        FromWorker::Saved {
            iterations: 1_000,
            finished: false,
            workers: 2,
            not_stored: Some("QuotaExceededError: the quota has been exceeded".into()),
        },
        FromWorker::Forgotten { error: None },
        FromWorker::RunFile,
        FromWorker::Learned { id: 3 },
        FromWorker::NotLearned { id: 3, message: "a run is training: stop it first".into() },
        FromWorker::Log { lines: vec!["... resumed on 2 worker(s)".into()] },
        FromWorker::Evaluated { id: 7 },
        FromWorker::Images { indices: vec![5, 6] },
        FromWorker::Paused,
        FromWorker::Resumed,
        FromWorker::Stopped,
        FromWorker::Finished { reason: lenet::train::StopReason::Patience, best_validation: 0.0091, best_iter: 17_799, test_score: 0.0092 },
        FromWorker::Error { message: "train-images-idx3-ubyte.gz: HTTP 404 Not Found".into() },
        FromWorker::DataMissing { message: "train-images-idx3-ubyte.gz: HTTP 404 Not Found for data/train-images-idx3-ubyte.gz".into() },
        FromWorker::Crashed { message: "panicked at src/web/worker.rs:1:1".into() },
    ];
    for m in from_worker {
        assert_eq!(decode::<FromWorker>(encode(&m)).unwrap(), m);
    }
}

#[wasm_bindgen_test]
fn malformed_messages_are_refused_with_a_reason() {
    assert!(decode::<ToWorker>(JsValue::from_str("start")).is_err());
    let unknown = js_sys::JSON::parse(r#"{"type":"Explode"}"#).unwrap();
    assert!(decode::<ToWorker>(unknown).unwrap_err().contains("unknown variant"));
    let missing = js_sys::JSON::parse(r#"{"type":"Start","data_url":"data/"}"#).unwrap();
    assert!(decode::<ToWorker>(missing).unwrap_err().contains("missing field `settings`"));
    let settings = r#""learning_rate":0.1,"momentum":0,"lr_decay":1,"batch_size":500,"epochs":1,"seed":1"#;
    let start = |schedule: &str| {
        js_sys::JSON::parse(&format!(r#"{{"type":"Start","data_url":"data/","workers":1,"settings":{{{settings}{schedule}}}}}"#)).unwrap()
    };
    let linear = decode::<ToWorker>(start(r#","schedule":"linear""#)).unwrap_err();
    assert!(linear.contains("unknown variant `linear`, expected `step` or `cosine`"), "{linear}");
    let Ok(ToWorker::Start { settings: cosine, .. }) = decode::<ToWorker>(start(r#","schedule":"cosine""#)) else {
        panic!("a cosine schedule reads")
    };
    assert_eq!(cosine.schedule, lenet::train::Schedule::Cosine, "the core's enum, by its name");
    let Ok(ToWorker::Start { settings: none, .. }) = decode::<ToWorker>(start("")) else { panic!("a message without a schedule reads") };
    assert_eq!(none.schedule, lenet::train::Schedule::Step, "no schedule is the tutorial's step");
    let finished = js_sys::JSON::parse(r#"{"type":"Finished","reason":"bored","best_validation":0,"best_iter":0,"test_score":0}"#).unwrap();
    assert!(decode::<FromWorker>(finished).unwrap_err().contains("unknown variant `bored`"));
}

#[wasm_bindgen_test]
fn bulk_numbers_travel_beside_a_message_in_a_transferred_buffer() {
    let params = [1.0f32, -2.5, 3.25];
    let (packed, transfer) = pack(&FromWorker::Weights { best: false }, Some(&js_sys::Float32Array::from(&params[..])));
    assert_eq!(transfer.length(), 1);
    assert!(transfer.get(0).is_instance_of::<js_sys::ArrayBuffer>());
    let (message, payload) = unpack::<FromWorker>(&packed).unwrap();
    assert_eq!(message, FromWorker::Weights { best: false });
    assert_eq!(payload_f32(&payload).unwrap(), params);
    assert!(payload_u8(&payload).unwrap_err().contains("Uint8Array"), "a payload of another type is refused");
    let (packed, transfer) = pack(&FromWorker::Ready, None);
    assert_eq!(transfer.length(), 0);
    let (_, payload) = unpack::<FromWorker>(&packed).unwrap();
    assert!(payload_f32(&payload).is_err(), "no payload, no numbers");
    let bytes = [0u8, 255, 7];
    let (packed, _) = pack(&ToWorker::Keep { name: "run.safetensors".into(), workers: 1 }, Some(&js_sys::Uint8Array::from(&bytes[..])));
    assert_eq!(payload_u8(&unpack::<ToWorker>(&packed).unwrap().1).unwrap(), bytes);
}

#[wasm_bindgen_test]
fn presets_are_the_cores_protocols() {
    assert_eq!(form::preset("tutorial").unwrap().protocol(50_000), Ok(lenet::Protocol::tutorial()));
    assert_eq!(form::preset("fast").unwrap().protocol(50_000), Ok(lenet::Protocol::fast()));
    assert_eq!(form::preset("accurate").unwrap().protocol(50_000), Ok(lenet::Protocol::accurate()));
    assert_eq!(form::preset("custom"), None);
    assert_eq!(settings().protocol(50_000).unwrap().patience, 10_000, "form settings keep the tutorial's early stopping");
    let wrong = Settings { momentum: 1.5, ..settings() };
    assert_eq!(wrong.protocol(50_000), Err("momentum must be at least 0 and below 1, got 1.5".into()));
    let too_big = Settings { batch_size: 60_000, ..settings() };
    assert!(too_big.protocol(50_000).unwrap_err().starts_with("batch size must be between 1 and 50000"));
}

#[wasm_bindgen_test]
fn chart_model_smooths_ticks_and_thins() {
    let mut data = ChartData::default();
    data.push_cost(1.0, 2.0);
    data.push_cost(2.0, 1.0);
    assert_eq!(data.smoothed, [(1.0, 2.0), (2.0, 1.95)], "an exponential moving average with weight 0.05");
    assert_eq!(nice_ticks(0.0, 2.3, 5), [0.0, 0.5, 1.0, 1.5, 2.0]);
    assert_eq!(nice_ticks(0.0, 200.0, 6), [0.0, 50.0, 100.0, 150.0, 200.0]);
    assert_eq!(nice_ticks(1.0, 1.0, 5), [1.0]);
    assert_eq!(y_range(&[&[(1.0, 10.0)], &[(2.0, 5.0)]]), (0.0, 10.8));
    assert_eq!(y_range(&[&[]]), (0.0, 1.0));
    let many: Vec<(f64, f64)> = (0..10_000).map(|i| (f64::from(i), 1.0)).collect();
    let thinned = thin(&many);
    assert!(thinned.len() <= 1501 && thinned.last() == many.last());
    data.clear();
    assert_eq!(data, ChartData::default());
    assert_eq!((format_duration(59.4), format_duration(65.0), format_duration(7380.0)), ("59s".into(), "1m05s".into(), "2h03m".into()));
}

fn canvas(width: u32, height: u32) -> HtmlCanvasElement {
    let doc = web_sys::window().unwrap().document().unwrap();
    let c: HtmlCanvasElement = doc.create_element("canvas").unwrap().dyn_into().unwrap();
    c.set_width(width);
    c.set_height(height);
    c.style().set_property("width", &format!("{width}px")).unwrap();
    c.style().set_property("height", &format!("{height}px")).unwrap();
    doc.body().unwrap().append_child(&c).unwrap();
    c
}

fn inked_pixels(c: &HtmlCanvasElement) -> usize {
    let data = pad::context_2d(c).get_image_data(0.0, 0.0, f64::from(c.width()), f64::from(c.height())).unwrap().data();
    data.chunks_exact(4).filter(|p| p[3] > 0).count()
}

/// Pixels within a small distance of an RGB colour.
fn pixels_of(c: &HtmlCanvasElement, rgb: [u8; 3]) -> usize {
    let data = pad::context_2d(c).get_image_data(0.0, 0.0, f64::from(c.width()), f64::from(c.height())).unwrap().data();
    data.chunks_exact(4).filter(|p| p[3] > 200 && (0..3).all(|i| (i32::from(p[i]) - i32::from(rgb[i])).abs() < 24)).count()
}

#[wasm_bindgen_test]
fn chart_draws_axes_and_lines() {
    let c = canvas(600, 240);
    draw(&c, &ChartData::default(), &LIGHT);
    let empty = inked_pixels(&c);
    assert!(empty > 0, "axes and labels are drawn even with no data");
    // Only the legend's swatches carry the series' colours so far.
    let swatches = |c: &HtmlCanvasElement| [[0x35, 0x65, 0xb8], [0xc0, 0x60, 0x1a], [0x23, 0x82, 0x4c]].map(|rgb| pixels_of(c, rgb));
    let before = swatches(&c);
    assert!(before.iter().all(|&n| n > 0 && n < 80), "legend swatches only: {before:?}");
    let mut data = ChartData::default();
    for i in 0..200 {
        data.push_cost(f64::from(i), 2.3 / (1.0 + f64::from(i) / 10.0));
    }
    data.push_validation(1.0, 9.2);
    data.push_validation(2.0, 5.0);
    data.push_test(1.0, 9.6);
    draw(&c, &data, &LIGHT);
    let after = swatches(&c);
    let (cost_line, validation, test) = (after[0] - before[0], after[1] - before[1], after[2] - before[2]);
    assert!(cost_line > 300, "the smoothed cost line is drawn ({cost_line} pixels)");
    assert!(validation > 50 && test > 10, "validation ({validation}) and test ({test}) points are drawn");
}

#[wasm_bindgen_test]
fn a_narrow_chart_stacks_its_panels_at_its_own_size() {
    let ratio = web_sys::window().unwrap().device_pixel_ratio().max(1.0);
    let mut data = ChartData::default();
    for i in 0..50 {
        data.push_cost(f64::from(i), 1.0 / (1.0 + f64::from(i)));
    }
    data.push_validation(1.0, 3.0);
    data.push_test(1.0, 3.5);
    let wide = canvas(800, 300);
    draw(&wide, &data, &DARK);
    assert_eq!((wide.width(), wide.height()), ((800.0 * ratio) as u32, (300.0 * ratio) as u32), "drawn at its displayed size");
    let narrow = canvas(360, 300);
    draw(&narrow, &data, &DARK);
    assert_eq!(narrow.client_height(), 600, "on a phone the panels stack: the canvas grows");
    assert_eq!((narrow.width(), narrow.height()), ((360.0 * ratio) as u32, (600.0 * ratio) as u32), "and is not scaled to its box");
    // The dark palette's validation colour, in the lower half only.
    let lower = pad::context_2d(&narrow).get_image_data(0.0, 300.0 * ratio, 360.0 * ratio, 300.0 * ratio).unwrap().data();
    let orange =
        lower.chunks_exact(4).filter(|p| p[3] > 200 && (i32::from(p[0]) - 0xf0).abs() < 24 && (i32::from(p[1]) - 0xa0).abs() < 24).count();
    assert!(orange > 10, "the error panel is below the cost panel ({orange} validation pixels there)");
    assert_eq!(figures_rows(&data), "<tr><td>1</td><td>3.00 %</td><td>3.50 %</td></tr>");
}

#[wasm_bindgen_test]
fn a_long_history_keeps_the_chart_and_its_table_bounded() {
    let mut data = ChartData::default();
    for i in 0..300_000 {
        data.push_cost(f64::from(i), 1.0);
    }
    for epoch in 1..=100_000u32 {
        data.push_validation(f64::from(epoch), 2.0);
        if epoch.is_multiple_of(4) {
            data.push_test(f64::from(epoch), 1.5);
        }
    }
    for series in [&data.costs, &data.smoothed, &data.validation] {
        assert!(series.len() <= 100_000, "{} points kept", series.len());
    }
    assert_eq!(data.costs.first(), Some(&(0.0, 1.0)), "the first point stays");
    assert_eq!(data.costs.last(), Some(&(299_999.0, 1.0)), "and the newest");
    assert_eq!(data.validation.last(), Some(&(100_000.0, 2.0)));
    let rows = figures_rows(&data);
    let count = rows.matches("<tr>").count();
    assert!((250..=501).contains(&count), "{count} rows, spread over the run");
    assert!(rows.ends_with("<tr><td>100000</td><td>2.00 %</td><td>1.50 %</td></tr>"), "the newest row, with its test");
    // Every row of an epoch with a test shows it, every other shows none.
    for row in rows.split("</tr>").filter(|r| !r.is_empty()) {
        let epoch: u32 = row.trim_start_matches("<tr><td>").split('<').next().unwrap().parse().unwrap();
        assert_eq!(row.ends_with("1.50 %</td>"), epoch.is_multiple_of(4), "{row}");
    }
    draw(&canvas(800, 300), &data, &LIGHT);
}

#[wasm_bindgen_test]
fn a_stroke_on_a_canvas_becomes_an_mnist_image() {
    let c = canvas(280, 280);
    let ctx = pad::context_2d(&c);
    ctx.set_fill_style_str("#fff");
    ctx.fill_rect(0.0, 0.0, 280.0, 280.0);
    assert!(lenet::preprocess::to_mnist(&pad::ink(&c), 280, 280).is_none(), "a white pad is blank");
    ctx.set_stroke_style_str("#000");
    ctx.set_line_width(20.0);
    ctx.begin_path();
    ctx.move_to(60.0, 40.0);
    ctx.line_to(60.0, 240.0);
    ctx.stroke();
    let ink = pad::ink(&c);
    assert!((ink[140 * 280 + 60] - 1.0).abs() < 1e-6 && ink[140 * 280 + 200] == 0.0);
    let image = lenet::preprocess::to_mnist(&ink, 280, 280).unwrap();
    let rows: Vec<usize> = (0..28).filter(|y| (0..28).any(|x| image[y * 28 + x] > 0.0)).collect();
    assert_eq!(rows.len(), 20, "the stroke's height is scaled to 20 pixels");
    assert_eq!((rows[0], rows[19]), (4, 23), "and centred");
}

/// A helper served on one end of a channel, the lead's `Link` on the other.
fn linked_helper() -> Link {
    let channel = web_sys::MessageChannel::new().unwrap();
    helper::serve(channel.port2().unchecked_ref());
    Link::new(channel.port1().unchecked_into())
}

/// Chunks `chunks` of `plan` worked by the helper: their outcomes (an
/// evaluation's added up), and their gradient sums.
async fn ask(
    link: &mut Link,
    plan: &lenet::train::Plan,
    chunks: std::ops::Range<usize>,
    params: &[f32],
    version: usize,
) -> Result<(Vec<lenet::train::Outcome>, Vec<Vec<f32>>), String> {
    link.send(plan, chunks.clone(), params, version)?;
    let (outcomes, _) = link.receive().await?;
    let sums = (0..plan.sums(chunks))
        .map(|k| {
            let mut sum = vec![0.0; params.len()];
            link.copy_sum(k, &mut sum);
            sum
        })
        .collect();
    Ok((outcomes, sums))
}

/// Chunks `chunks` of `plan` worked here: the outcomes, and the gradient
/// sums a tree holds after them.
fn worked_here(
    model: &mut lenet::LeNet5,
    data: &lenet::Mnist,
    plan: &lenet::train::Plan,
    chunks: std::ops::Range<usize>,
) -> (Vec<lenet::train::Outcome>, Vec<Vec<f32>>) {
    use lenet::train::{work, GradTree, Outcome};
    let mut x = vec![0.0; 50 * 784];
    let mut tree = GradTree::default();
    let (offset, n) = plan.tree();
    tree.start_at(n, offset + chunks.start);
    let outcomes = chunks
        .map(|i| {
            let outcome = work(model, data, plan, i, &mut x);
            if let Outcome::Trained { count, .. } = outcome {
                tree.push_chunk(offset + i, &model.grads, count, plan.batch);
            }
            outcome
        })
        .collect();
    (outcomes, tree.nodes().map(|(_, sum)| sum.to_vec()).collect())
}

fn small(batch_size: usize, epochs: usize) -> lenet::Protocol {
    lenet::Protocol { batch_size, epochs, ..lenet::Protocol::tutorial() }
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Runs `protocol` to its end with the lead and `helpers` helpers on
/// message channels, `chunks_per_worker` chunks each a step: the weights, and the
/// validation errors.
async fn run_lead(protocol: lenet::Protocol, data: &lenet::Mnist, helpers: usize, chunks_per_worker: usize) -> (Vec<f32>, Vec<f64>) {
    let links = (0..helpers).map(|_| linked_helper()).collect();
    let mut lead = Lead::new(lenet::Trainer::new(protocol, data.clone()).unwrap(), links, chunks_per_worker);
    // The helpers on this page share one state: a data_url name of its own
    // for each run, so that none trains on data an earlier test sent.
    thread_local!(static RUNS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) });
    let run = RUNS.with(|r| r.replace(r.get() + 1));
    lead.connect(&format!("run_lead {run}")).await.unwrap();
    let (mut times, mut validations) = (StepTimes::default(), Vec::new());
    loop {
        match lead.step(&mut times).await.unwrap() {
            lenet::Event::Validated { error, .. } => validations.push(error),
            lenet::Event::Finished { .. } => break,
            _ => {}
        }
    }
    assert!(times.steps > 0 && times.own > 0.0, "the steps were timed: {times:?}");
    (lead.into_parts().0.model.params, validations)
}

/// The same run on the synchronous driver (one thread in wasm).
fn run_threads(protocol: lenet::Protocol, data: &lenet::Mnist) -> (Vec<f32>, Vec<f64>) {
    let mut t = lenet::Trainer::new(protocol, data.clone()).unwrap();
    let mut validations = Vec::new();
    lenet::Threads::new(1).run(&mut t, |_, e| {
        if let lenet::Event::Validated { error, .. } = e {
            validations.push(*error)
        }
    });
    (t.model.params, validations)
}

#[wasm_bindgen_test]
async fn the_lead_over_helpers_trains_exactly_as_the_synchronous_driver() {
    let data = common::noise_mnist(9, 240, 60, 60);
    let distorted =
        |p: lenet::Protocol| lenet::Protocol { augment: lenet::augment::Augment::parse(common::EVERY_DISTORTION).unwrap(), ..p };
    for (batch, helpers, chunks_per_worker, distort) in [(120, 1, 1, false), (120, 2, 1, false), (120, 1, 3, true), (240, 2, 2, true)] {
        let protocol = if distort { distorted(small(batch, 2)) } else { small(batch, 2) };
        let (shared, v1) = run_lead(protocol.clone(), &data, helpers, chunks_per_worker).await;
        let (threaded, v2) = run_threads(protocol, &data);
        assert!(same_bits(&shared, &threaded), "batch {batch}, {helpers} helpers, chunks_per_worker {chunks_per_worker}: the same bits");
        assert_eq!(v1, v2);
        assert_ne!(shared, lenet::LeNet5::new(small(batch, 2).seed).params, "it trained");
    }
}

#[wasm_bindgen_test]
async fn small_batches_over_helpers_differ_only_by_summation_order() {
    // A batch of 20 goes to 2 workers as 10 + 10 images instead of one
    // chunk of 20: the same SGD, summed in another order. One minibatch,
    // so that the rounding is not amplified by later steps.
    let data = common::noise_mnist(10, 20, 40, 40);
    let (one, _) = run_threads(small(20, 1), &data);
    let (two, _) = run_lead(small(20, 1), &data, 1, 1).await;
    let (again, _) = run_lead(small(20, 1), &data, 1, 1).await;
    assert!(same_bits(&two, &again), "run to run, bit-identical");
    assert!(!same_bits(&one, &two), "the chunks differ, so the rounding does");
    common::assert_close(&one, &two, 1e-6, 1e-4);
}

#[wasm_bindgen_test]
async fn a_helper_works_chunks_exactly_as_the_lead_would() {
    use lenet::data::HeldOut;
    use lenet::train::{Outcome, Plan, Task};
    let data = common::noise_mnist(4, 240, 70, 30);
    let mut link = linked_helper();
    link.connect(&data, "noise 4").await.unwrap();
    let mut model = lenet::LeNet5::new(5);
    // The second minibatch of 120 (images 120..240) in chunks of 40. Its
    // tree is 0..2 and 2..3: chunks 1..3 come back as two sums, 0..2 as
    // one. The parameters change between the two and must follow.
    let plan = Plan { task: Task::Train, first: 120, end: 240, chunk_images: 40, batch: 120, distortion: None };
    for (chunks, version, sums) in [(1..3, 0, 2), (0..2, 1, 1)] {
        if version == 1 {
            model.params.iter_mut().for_each(|p| *p *= 0.5);
        }
        let (outcomes, got) = ask(&mut link, &plan, chunks.clone(), &model.params, version).await.unwrap();
        let (expected, sums_here) = worked_here(&mut model, &data, &plan, chunks.clone());
        assert_eq!(outcomes, expected, "chunks {chunks:?}");
        assert_eq!((got.len(), sums_here.len()), (sums, sums), "chunks {chunks:?}: one sum a node");
        assert!(got.iter().zip(&sums_here).all(|(a, b)| same_bits(a, b)), "chunks {chunks:?}: same gradient bits");
    }
    // Evaluation chunks: errors and images added up, no gradient.
    let plan = Plan::evaluation(HeldOut::Validation, 0, 70);
    let (outcomes, sums) = ask(&mut link, &plan, 0..2, &model.params, 1).await.unwrap();
    let (here, _) = worked_here(&mut model, &data, &plan, 0..2);
    let errors = here.iter().map(|o| if let Outcome::Counted { errors, .. } = o { *errors } else { 0 }).sum();
    assert_eq!((outcomes, sums.len()), (vec![Outcome::Counted { errors, count: 70 }], 0));
}

#[wasm_bindgen_test]
async fn a_helper_refuses_work_outside_its_data_with_a_reason() {
    use lenet::train::{Plan, Task};
    let data = common::noise_mnist(6, 60, 20, 20);
    let mut link = linked_helper();
    link.connect(&data, "noise 6").await.unwrap();
    let params = lenet::LeNet5::new(1).params;
    let plan = Plan { task: Task::Train, first: 50, end: 100, chunk_images: 25, batch: 50, distortion: None };
    let err = ask(&mut link, &plan, 1..2, &params, 0).await.unwrap_err();
    assert!(err.contains("is not in a set of 60"), "{err}");
    // Chunks that straddle two minibatches have no place in one tree.
    let plan = Plan { task: Task::Train, first: 0, end: 60, chunk_images: 20, batch: 40, distortion: None };
    let err = ask(&mut link, &plan, 0..3, &params, 0).await.unwrap_err();
    assert!(err.contains("not chunks of one minibatch of 40"), "{err}");
    let err = ask(&mut link, &Plan { batch: 0, ..plan }, 0..1, &params, 0).await.unwrap_err();
    assert!(err.contains("not chunks of one minibatch of 0"), "{err}");
    // The refusals gave the link's buffers back: the next work goes through.
    let plan = Plan { task: Task::Train, first: 0, end: 50, chunk_images: 25, batch: 50, distortion: None };
    let (outcomes, sums) = ask(&mut link, &plan, 1..2, &params, 0).await.unwrap();
    let here = worked_here(&mut lenet::LeNet5::from_params(params.clone()), &data, &plan, 1..2);
    assert_eq!(outcomes, here.0);
    assert!(same_bits(&sums[0], &here.1[0]));
}

#[wasm_bindgen_test]
async fn a_helper_that_cannot_start_is_reported_not_awaited() {
    let mut link = Link::spawn("/no-such-helper-script.js", false).unwrap();
    let err = link.connect(&common::noise_mnist(9, 10, 10, 10), "noise 9").await.unwrap_err();
    assert!(err.starts_with("a helper worker failed"), "{err}");
}

#[wasm_bindgen_test]
async fn a_helper_is_sent_the_data_again_when_the_source_changes() {
    use lenet::train::{Plan, Task};
    let mut link = linked_helper();
    let first = common::noise_mnist(7, 60, 10, 10);
    link.connect(&first, "one").await.unwrap();
    let second = common::noise_mnist(8, 60, 10, 10);
    link.connect(&second, "two").await.unwrap();
    let mut model = lenet::LeNet5::new(2);
    let plan = Plan { task: Task::Train, first: 0, end: 60, chunk_images: 30, batch: 60, distortion: None };
    let (outcomes, _) = ask(&mut link, &plan, 1..2, &model.params, 0).await.unwrap();
    assert_eq!(outcomes, worked_here(&mut model, &second, &plan, 1..2).0, "the helper trains on the second data set");
}

/// What the page does with a file the user opens or drops: weights become
/// the model, a checkpoint a run to resume, anything else an error that
/// says what is wrong (the page then keeps its model).
#[wasm_bindgen_test]
fn opened_files_are_weights_runs_or_errors_with_a_reason() {
    use lenet::data::Collection;
    use lenet::web::page::files::{open, Opened};
    use lenet::weights::write_safetensors;
    let model = lenet::LeNet5::new(11);
    let good = lenet::weights::save(&model.params);
    assert!(matches!(open(&good), Ok(Opened::Weights(p)) if p == model.params));
    let trainer =
        lenet::Trainer::new(lenet::Protocol { epochs: 1, batch_size: 20, ..lenet::Protocol::fast() }, common::noise_mnist(2, 60, 20, 20))
            .unwrap();
    // A run on MNIST, the page's data set unless `?dataset=` says otherwise.
    let snapshot = lenet::train::Snapshot { dataset: Some(Collection::Mnist), ..trainer.snapshot().unwrap() };
    let run = lenet::checkpoint::save(&snapshot);
    assert!(matches!(open(&run), Ok(Opened::Run(s)) if *s == snapshot), "a checkpoint opens as a run, not as weights");
    let err = |bytes: &[u8]| match open(bytes) {
        Err(e) => e,
        Ok(_) => panic!("opened"),
    };
    let fashion = lenet::checkpoint::save(&lenet::train::Snapshot { dataset: Some(Collection::Fashion), ..snapshot.clone() });
    assert_eq!(err(&fashion), "a run on Fashion-MNIST: switch the data set to Fashion-MNIST to use or resume it");
    let other = lenet::checkpoint::save(&lenet::train::Snapshot { dataset: None, ..snapshot.clone() });
    assert!(err(&other).starts_with("a run on data that is neither MNIST nor Fashion-MNIST"));
    assert!(err(b"<!doctype html>").contains("not a valid safetensors file"));
    assert!(err(&good[..good.len() / 2]).contains("not a valid safetensors file"), "a truncated file");
    let renamed = write_safetensors(&[("fc.weight", &[2], &[1.0, 2.0])], None);
    assert!(err(&renamed).contains("no tensor \"conv1.weight\""));
    let mut nan = model.params.clone();
    nan[3] = f32::NAN;
    assert!(err(&lenet::weights::save(&nan)).contains("conv1.weight holds a non-finite value at index 3"));
    let small = write_safetensors(&[("conv1.weight", &[20, 1, 3, 3], &[0.0; 180])], None);
    assert!(err(&small).contains("conv1.weight has shape [20, 1, 3, 3], LeNet-5 needs [20, 1, 5, 5]"));
    let huge = vec![0u8; lenet::weights::MAX_FILE_BYTES + 1];
    assert!(err(&huge).contains("larger than any LeNet-5 file"));
}

/// Resolves after `ms` milliseconds, by the window's timer (not `next_task`).
async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

#[wasm_bindgen_test]
async fn tasks_that_wait_for_the_next_task_at_once_all_go_on() {
    // A run's slice and an evaluation's piece yield at the same time in
    // the worker: each must be woken, not only the last to ask.
    use std::cell::Cell;
    use std::rc::Rc;
    let done = Rc::new(Cell::new(0));
    for _ in 0..3 {
        let done = done.clone();
        wasm_bindgen_futures::spawn_local(async move {
            for _ in 0..5 {
                lenet::web::next_task().await;
            }
            done.set(done.get() + 1);
        });
    }
    for _ in 0..100 {
        if done.get() == 3 {
            break;
        }
        sleep_ms(10).await;
    }
    assert_eq!(done.get(), 3, "all three tasks went on past their five yields");
}

#[wasm_bindgen_test]
fn the_browser_distorts_as_the_command_line_does() {
    // tests/augment.rs asserts the same checksum natively.
    assert_eq!(common::distorted_checksum(), common::DISTORTED_CHECKSUM, "the distorted rings' bits differ from the command line's");
}

#[wasm_bindgen_test]
fn the_benchmark_pages_trainer_starts_and_trains() {
    // The benchmark page's "1 worker" rows: a run that never stops must
    // still be one the protocol's checks accept.
    let mut bench = lenet::bench::web::Bench::new(50).expect("the benchmark's protocol is a valid one");
    let cost = bench.train_batch();
    assert!(cost.is_finite() && cost > 0.0, "a minibatch trains: cost {cost}");
    assert!(bench.infer_batch().is_finite());
}
