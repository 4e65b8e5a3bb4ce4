"""Training side: every model takes a step, export keeps parity and metadata, and a model
gives the same answer through the training evaluation path and the serving path."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
import torch

from face_pipeline import (
    PAPER_DETECTOR,
    PreprocessParams,
    crop_face,
    decode_image,
    detect_faces,
    face_tensors,
    normalize,
)
from face_pipeline.metadata import json_field, params_from_metadata
from training.export import export_onnx
from training.loop import Split, fit, predict
from training.models import build_model
from training.presets import PRESETS, channel_stats, make_config

FIXTURES = Path(__file__).parent / "fixtures"


def tiny_split(n: int, size: int, seed: int) -> Split:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 7
    crops = rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8)
    crops[..., 0] = (labels[:, None, None] * 36).astype(np.uint8)  # a learnable signal
    return Split(crops, labels.astype(np.int64))


@pytest.mark.parametrize(
    "preset",
    [
        "paper-basecnn",
        "paper-resnet18",
        "tuned-mobilenet",
        "tuned-mobilenet-frozen",
        "fer-stage-mobilenet",
        "tuned-resnet18-fer",
        "cascade-mobilenet",
    ],
)
def test_each_model_trains_a_step(preset: str, tmp_path: Path) -> None:
    config = make_config(preset, init="none", epochs=1, batch_size=7, input_size=64, extra_per_epoch=0)
    if preset == "cascade-mobilenet":
        config.extra_per_epoch = 7  # mixing in a second data set works too
    params = PreprocessParams(input_size=64)
    train, test = tiny_split(14, 64, 0), tiny_split(7, 64, 1)
    extra = tiny_split(14, 48, 2)  # FER-sized faces, resized on the fly
    before = build_model(config.arch, "none", 7, 64)
    result = fit(config, params, train, {"test": test}, seed=0, checkpoint=tmp_path / "ckpt.pt", extra=extra)
    assert len(result.history) == 1 and np.isfinite(result.history[0]["train_loss"])
    assert len(result.predictions["test"]) == 7
    changed = [
        not torch.equal(a, b)
        for a, b in zip(before.state_dict().values(), result.net.state_dict().values(), strict=True)
    ]
    assert any(changed)
    # Resuming from the checkpoint of a finished run trains nothing more and keeps the history.
    again = fit(config, params, train, {"test": test}, seed=0, checkpoint=tmp_path / "ckpt.pt")
    assert again.history == result.history


def test_frozen_early_layers_do_not_change() -> None:
    config = make_config("tuned-mobilenet-frozen", init="none", epochs=1, batch_size=7, input_size=64)
    torch.manual_seed(0)
    result = fit(config, PreprocessParams(input_size=64), tiny_split(14, 64, 0), {}, seed=0)
    torch.manual_seed(0)
    fresh = build_model("mobilenet_v2", "none", 7, 64)
    assert torch.equal(result.net.features[1].conv[0][0].weight, fresh.features[1].conv[0][0].weight)
    assert not torch.equal(result.net.features[10].conv[0][0].weight, fresh.features[10].conv[0][0].weight)


def test_base_cnn_is_the_papers_network() -> None:
    net = build_model("basecnn")
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [c.kernel_size for c in convs] == [(5, 5), (5, 5)] and len(linears) == 2
    out = net.eval()(torch.zeros(2, 3, 120, 120))
    assert torch.allclose(out.exp().sum(1), torch.ones(2))  # log-softmax output
    assert PRESETS["paper-basecnn"]["lr"] == 0.1 and PRESETS["paper-basecnn"]["momentum"] == 0.5


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, PreprocessParams, Path]:
    torch.manual_seed(0)
    net = build_model("mobilenet_v2", "none").eval()
    params = PreprocessParams(mean=(0.42, 0.36, 0.33), std=(0.27, 0.25, 0.24), detector=PAPER_DETECTOR)
    path = tmp_path_factory.mktemp("model") / "model.onnx"
    worst = export_onnx(net, params, path, "test-mobilenet", "1.2.3", {"seed": 0}, {"test_acc": 0.5})
    assert worst < 1e-4
    return net, params, path


def test_export_is_one_file_with_dynamic_batch_and_metadata(exported: tuple) -> None:
    _, params, path = exported
    assert [p.name for p in path.parent.iterdir()] == ["model.onnx"]  # no external-data side file
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert inp.name == "input" and inp.shape == ["batch", 3, 120, 120] and inp.type == "tensor(float)"
    assert out.name == "probabilities" and out.shape == ["batch", 7]
    props = session.get_modelmeta().custom_metadata_map
    assert params_from_metadata(props) == params
    assert props["model_name"] == "test-mobilenet" and props["model_version"] == "1.2.3"
    assert json_field(props, "metrics") == {"test_acc": 0.5}
    for batch in (1, 8, 64):
        probs = session.run(None, {"input": np.zeros((batch, 3, 120, 120), np.float32)})[0]
        assert probs.shape == (batch, 7) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_training_eval_path_and_serving_path_agree(exported: tuple) -> None:
    """Same photo: training's detect -> crop -> torch, and serving's face_tensors -> onnxruntime."""
    net, params, path = exported
    rgb = decode_image((FIXTURES / "astronaut.png").read_bytes())
    box = detect_faces(rgb, params.detector)[0]
    training_probs = predict(net, crop_face(rgb, box, params)[None], params, "cpu")
    boxes, tensors = face_tensors(rgb, params)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    serving_probs = session.run(None, {"input": tensors})[0]
    assert boxes[0] == box
    np.testing.assert_allclose(serving_probs[:1], training_probs, atol=1e-4)
    assert serving_probs[0].argmax() == training_probs[0].argmax()


def test_channel_stats_are_per_channel_on_unit_scale() -> None:
    crops = np.zeros((2, 4, 4, 3), np.uint8)
    crops[..., 1] = 255
    mean, std = channel_stats(crops)
    assert mean == (0.0, 1.0, 0.0) and std == (0.0, 0.0, 0.0)


def test_unknown_preset_and_bad_checkpoint_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown preset"):
        make_config("nope")
    bogus = tmp_path / "bogus.pt"
    torch.save({"model": {"x": torch.zeros(1)}}, bogus)
    with pytest.raises(ValueError, match="does not look like"):
        build_model("resnet18", str(bogus))


def test_sweep_refuses_unknown_step_names(tmp_path: Path) -> None:
    from training.sweep import run_sweep

    with pytest.raises(SystemExit, match=r"unknown sweep step.*tuned-mobilenet-flim.*steps: "):
        run_sweep(tmp_path, tmp_path, only=["tuned-mobilenet-flim"])


def test_robust_augmentation_is_per_image_seeded_and_ends_at_the_input_size() -> None:
    from training.augment import robust

    crops = tiny_split(16, 48, 0).crops
    out = robust(crops, 64, torch.Generator().manual_seed(1))
    assert out.shape == (16, 64, 64, 3) and out.dtype == np.uint8
    assert np.array_equal(out, robust(crops, 64, torch.Generator().manual_seed(1)))
    assert not np.array_equal(out, robust(crops, 64, torch.Generator().manual_seed(2)))
    # One draw per image: the same image twice in a batch comes out differently.
    twins = robust(np.repeat(crops[:1], 2, axis=0), 64, torch.Generator().manual_seed(3))
    assert not np.array_equal(twins[0], twins[1])
    # The light strength changes the faces less than the robust one, on average.
    from training.augment import LIGHT

    resized = robust(crops, 64, torch.Generator().manual_seed(4), LIGHT)
    base = np.stack([cv2.resize(c, (64, 64)) for c in crops]).astype(float)
    assert np.abs(resized - base).mean() < np.abs(out - base).mean()


def test_onecycle_warms_up_then_decays_to_zero() -> None:
    from training.loop import lr_at

    config = make_config("fer-stage-mobilenet")
    lrs = [lr_at(config, step, 100) for step in range(100)]
    assert lrs[0] < lrs[5] < lrs[9] == pytest.approx(config.lr)
    assert max(lrs) == pytest.approx(config.lr) and lrs[-1] < 0.01 * config.lr
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))


def test_variants_average_each_networks_logits_as_the_exported_ensemble_does() -> None:
    from training.models import Averaged
    from training.ship import candidate_members, variant_logits, view_logits

    # Every candidate keeps the SFEW trial (the first run), once each.
    assert candidate_members(3) == [(0,), (0, 1), (0, 2), (0, 1, 2)]
    assert len(set(candidate_members(5))) == 16
    torch.manual_seed(0)
    nets = [build_model("basecnn", "none", 7, 32).eval() for _ in range(3)]
    params = PreprocessParams(input_size=32)
    faces = tiny_split(5, 32, 3)
    faces.crops[:, :, :16] = 0  # a face that is not its own mirror image
    views = [view_logits(net, faces, params) for net in nets]
    for members, mirror in itertools.product([(0,), (0, 2), (0, 1, 2)], (False, True)):
        ensemble = Averaged([nets[m] for m in members], mirror).eval()
        with torch.no_grad():
            expected = ensemble(torch.from_numpy(normalize(faces.crops, params)))
        np.testing.assert_allclose(variant_logits(views, members, mirror), expected.numpy(), atol=1e-5)
    assert not np.allclose(variant_logits(views, (0,), True), variant_logits(views, (0,), False))


def test_export_refuses_networks_that_were_not_given_the_same_faces() -> None:
    from face_pipeline.params import YUNET_DETECTOR
    from training.ship import check_members

    base = PreprocessParams(input_size=80, grayscale=True).to_dict()
    capped = PreprocessParams(input_size=80, grayscale=True, margin_cap=0.25, detector=YUNET_DETECTOR).to_dict()
    trial = {"preprocess": capped, "split": "random"}
    stage = {"preprocess": base}  # a FER-2013 stage: whole images, no split, the default detector
    check_members([trial, stage, {**trial}])  # the shipped set's kind: capped trials with stages
    with pytest.raises(ValueError, match="framed alike"):
        check_members([trial, stage, {"preprocess": base, "split": "random"}])  # one trial with the paper's margin
    with pytest.raises(ValueError, match="one split"):
        check_members([trial, {**trial, "split": "film"}])
    with pytest.raises(ValueError, match="preprocessing"):
        check_members([trial, {"preprocess": {**base, "input_size": 64}}])
    with pytest.raises(ValueError, match="first network"):
        check_members([stage, trial])
    with pytest.raises(ValueError, match="first network"):
        check_members([])


def test_mixup_blends_each_face_with_another_of_the_batch() -> None:
    from training.loop import mixup_batch

    config = make_config("cascade80-mixup-mobilenet-both")
    x = torch.rand(6, 1, 8, 8)
    mixed, other, lam = mixup_batch(config, x, np.random.default_rng(0), torch.Generator().manual_seed(0))
    assert 0 < lam < 1 and sorted(other.tolist()) == list(range(6))
    assert torch.allclose(mixed, lam * x + (1 - lam) * x[other])
    assert not torch.allclose(mixed, x)
    # The recipe trains; without mixup the same seed trains another network.
    plain = make_config("cascade80-mixup-mobilenet-both", init="none", epochs=1, batch_size=7, extra_per_epoch=0)
    nets = []
    for mixup in (0.2, 0.0):
        plain.mixup = mixup
        nets.append(fit(plain, PreprocessParams(input_size=80), tiny_split(14, 80, 0), {}, seed=0).net)
    assert not torch.equal(nets[0].classifier[-1].weight, nets[1].classifier[-1].weight)


def test_wise_serves_the_trained_network_averaged_with_its_init(tmp_path: Path) -> None:
    init = tmp_path / "stage.pt"
    torch.manual_seed(1)
    torch.save(build_model("mobilenet_v2", "none", 7, 64).state_dict(), init)
    start = build_model("mobilenet_v2", str(init), 7, 64).state_dict()
    config = make_config("cascade80-wise50-mobilenet-both", init=str(init), epochs=1, batch_size=7, input_size=64)
    config.extra_per_epoch = 0
    params, train, test = PreprocessParams(input_size=64), tiny_split(14, 64, 0), tiny_split(7, 64, 1)
    wise = fit(config, params, train, {"test": test}, seed=0, checkpoint=tmp_path / "ckpt.pt")
    trained = torch.load(tmp_path / "ckpt.pt", weights_only=False)["model"]  # the checkpoint keeps what trained
    config.wise = 1.0
    plain = fit(config, params, train, {"test": test}, seed=0).net.state_dict()
    served = wise.net.state_dict()
    for name in ("features.0.0.weight", "features.0.1.running_var", "classifier.1.bias"):
        assert torch.allclose(trained[name], plain[name])  # the same training, only what is served differs
        assert torch.allclose(served[name], (start[name] + plain[name]) / 2, atol=1e-6)
        assert not torch.allclose(served[name], plain[name])
    assert torch.equal(served["features.0.1.num_batches_tracked"], plain["features.0.1.num_batches_tracked"])
    # What is scored each epoch is the averaged network.
    assert wise.predictions["test"] == predict(wise.net, test.crops, params, "cpu").argmax(1).tolist()
    with pytest.raises(ValueError, match="checkpoint of ours"):
        fit(make_config("cascade80-wise50-mobilenet-both", init="none", epochs=1), params, train, {}, seed=0)


def test_weight_average_follows_the_weights_with_a_warmed_up_decay_and_copies_counters() -> None:
    from training.models import WeightAverage

    net = torch.nn.BatchNorm1d(2)
    average = WeightAverage(net, 0.9)
    start = net.weight.detach().clone()
    with torch.no_grad():
        net.weight.fill_(3.0)
    net.num_batches_tracked.fill_(5)
    average.update(net)  # step 1: keeps min(0.9, 2 / 11) of the old weights
    keep = 2 / 11
    assert torch.allclose(average.state["weight"], keep * start + (1 - keep) * 3.0)
    assert int(average.state["num_batches_tracked"]) == 5
    for _ in range(200):
        average.update(net)
    assert torch.allclose(average.state["weight"], torch.full((2,), 3.0), atol=1e-6)
    with pytest.raises(ValueError, match="between 0 and 1"):
        WeightAverage(net, 1.0)


def test_ema_serves_and_scores_the_moving_average_and_resumes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config("cascade80-cap25-ema-mobilenet-both", init="none", epochs=2, batch_size=7, input_size=64)
    config.extra_per_epoch = 0
    params, train, test = PreprocessParams(input_size=64), tiny_split(14, 64, 0), tiny_split(7, 64, 1)
    averaged = fit(config, params, train, {"test": test}, seed=0, checkpoint=tmp_path / "ckpt.pt")
    saved = torch.load(tmp_path / "ckpt.pt", weights_only=False)
    served = averaged.net.state_dict()
    name = "classifier.1.weight"
    assert torch.allclose(served[name], saved["average"]["state"][name])
    assert not torch.allclose(served[name], saved["model"][name])  # what trained is kept, the average served
    assert saved["average"]["steps"] == 4  # two steps an epoch
    assert averaged.predictions["test"] == predict(averaged.net, test.crops, params, "cpu").argmax(1).tolist()
    # A finished run resumed serves its saved average again, not the trained weights.
    again = fit(config, params, train, {"test": test}, seed=0, checkpoint=tmp_path / "ckpt.pt")
    assert torch.equal(again.net.state_dict()[name], served[name])
    # A run stopped during its second epoch goes on from the average of its first (dropout draws differ after a
    # resume, as they do for any run, so the weights are compared with the checkpoint, not the other run).
    from training import loop

    one_epoch = loop.train_one_epoch

    def stopped_in_epoch_2(*args: object, **kwargs: object) -> dict:
        if args[5] == 1:
            raise KeyboardInterrupt
        return one_epoch(*args, **kwargs)

    monkeypatch.setattr(loop, "train_one_epoch", stopped_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        fit(config, params, train, {}, seed=0, checkpoint=tmp_path / "resumed.pt")
    assert torch.load(tmp_path / "resumed.pt", weights_only=False)["average"]["steps"] == 2
    monkeypatch.setattr(loop, "train_one_epoch", one_epoch)
    resumed = fit(config, params, train, {"test": test}, seed=0, checkpoint=tmp_path / "resumed.pt")
    finished = torch.load(tmp_path / "resumed.pt", weights_only=False)["average"]
    assert finished["steps"] == 4
    assert torch.equal(resumed.net.state_dict()[name], finished["state"][name])
    assert torch.allclose(resumed.net.state_dict()[name], served[name], atol=2e-3)


def test_distillation_learns_the_teachers_probabilities_not_only_the_labels() -> None:
    from training.distill import soft_targets
    from training.loop import DISTILL_TEMPERATURE, _loss

    teacher = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0, -1.0, -2.0]] * 4)
    soft = torch.from_numpy(soft_targets(teacher.numpy()))
    assert torch.allclose(soft.sum(1), torch.ones(4))
    labels = torch.zeros(4, dtype=torch.long)
    only_teacher = make_config("fer-distill80-mobilenet", distill=1.0, label_smoothing=0.0)
    only_labels = make_config("fer-distill80-mobilenet", distill=0.0, label_smoothing=0.0)
    like_teacher = teacher.clone()  # the teachers' own logits: the distillation optimum
    sure = torch.tensor([[20.0, 0, 0, 0, 0, 0, 0]] * 4)  # the labels' optimum
    assert _loss(only_teacher, like_teacher, labels, soft) < _loss(only_teacher, sure, labels, soft)
    assert float(_loss(only_teacher, like_teacher, labels, soft)) == pytest.approx(0.0, abs=1e-6)
    # Without soft targets, or with weight 0, it is the plain cross-entropy on the labels.
    assert _loss(only_labels, sure, labels, soft) < _loss(only_labels, like_teacher, labels, soft)
    assert torch.equal(_loss(only_teacher, sure, labels), _loss(only_labels, sure, labels))
    assert DISTILL_TEMPERATURE > 1  # softened: the wrong classes' ranking carries over


def test_teacher_targets_average_each_stage_and_its_mirror_through_its_own_preprocessing(tmp_path: Path) -> None:
    import json

    from training.distill import teacher_logits, with_teacher_targets
    from training.models import Averaged

    stages = []
    for seed, size in ((0, 32), (1, 40)):  # stages of different input sizes teach together
        torch.manual_seed(seed)
        net = build_model("mobilenet_v2", "none", 7, size).eval()
        params = PreprocessParams(input_size=size, grayscale=True)
        path = tmp_path / f"stage{seed}.pt"
        torch.save(net.state_dict(), path)
        config = make_config("fer-stage-mobilenet", init="none", input_size=size)
        path.with_suffix(".json").write_text(json.dumps({"config": config.to_dict(), "preprocess": params.to_dict()}))
        stages.append((path, net, params))
    faces = tiny_split(5, 48, 3)
    got = teacher_logits([p for p, _, _ in stages], faces.crops)
    expected = []
    for _, net, params in stages:
        x = torch.from_numpy(normalize(faces.resized(params.input_size).crops, params))
        with torch.no_grad():
            expected.append(Averaged([net], mirror=True)(x).numpy())
    np.testing.assert_allclose(got, np.mean(expected, axis=0), rtol=1e-4, atol=1e-4)
    taught = with_teacher_targets(faces, [str(p) for p, _, _ in stages], cache_dir=tmp_path)
    assert taught.soft is not None and taught.soft.shape == (5, 7)
    assert taught.resized(32).soft is taught.soft  # resizing keeps each face's targets
    # A retrained teacher (new weights, same path) never reuses the cached targets.
    torch.manual_seed(7)
    torch.save(build_model("mobilenet_v2", "none", 7, 32).state_dict(), stages[0][0])
    retaught = with_teacher_targets(faces, [str(p) for p, _, _ in stages], cache_dir=tmp_path)
    assert not np.allclose(retaught.soft, taught.soft)


def test_trial_records_merge_seed_by_seed_local_runs_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from training import table2

    committed, local = tmp_path / "trials", tmp_path / "runs"
    for seed in range(5):
        path = committed / "r" / "random" / f"seed{seed}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"done": True, "seed": seed, "where": "committed"}))
    for seed, done in ((1, True), (3, False), (10, True)):
        path = local / "r" / "random" / f"seed{seed}" / "metrics.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"done": done, "seed": seed, "where": "local"}))
    monkeypatch.setattr(table2, "TRIALS_DIR", committed)
    monkeypatch.setattr(table2, "RUNS_DIR", local)
    trials = table2.load_trials("r", "random")
    assert [(t["seed"], t["where"]) for t in trials] == [
        (0, "committed"),
        (1, "local"),
        (2, "committed"),
        (3, "committed"),  # an unfinished local trial does not hide the finished record
        (4, "committed"),
        (10, "local"),
    ]


def test_the_cross_validation_column_pools_the_folds_faces_and_needs_every_fold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training import table2

    monkeypatch.setattr(table2, "TRIALS_DIR", tmp_path / "trials")
    monkeypatch.setattr(table2, "RUNS_DIR", tmp_path / "runs")
    folds = [(0.5, 94), (0.25, 66), (0.4, 85), (0.6, 72), (0.3, 66)]
    for seed, (acc, n) in enumerate(folds[:4]):
        path = tmp_path / "trials" / "r" / "cv" / f"seed{seed}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"done": True, "seed": seed, "test_acc_stable": acc, "n_test": n, "train_acc_eval": 0.9}
        path.write_text(json.dumps(record))
    assert table2.summarise("r")["cv"]["pooled"] is None  # four folds of five: no figure
    acc, n = folds[4]
    record = {"done": True, "seed": 4, "test_acc_stable": acc, "n_test": n, "train_acc_eval": 0.9}
    (tmp_path / "trials" / "r" / "cv" / "seed4.json").write_text(json.dumps(record))
    summary = table2.summarise("r")["cv"]
    right = 0.5 * 94 + 0.25 * 66 + 0.4 * 85 + 0.6 * 72 + 0.3 * 66
    assert summary["pooled"] == round(100 * right / 383, 1) and summary["test_median"] == 40.0


def test_int8_benchmark_quantises_to_a_smaller_model_that_still_answers_alike(exported: tuple, tmp_path: Path) -> None:
    import onnx

    from benchmarks.int8 import quantise

    _, params, path = exported
    faces = normalize(np.random.default_rng(0).integers(0, 255, (64, 120, 120, 3), dtype=np.uint8), params)
    out = tmp_path / "int8.onnx"
    quantise(path, out, faces)
    ops = {node.op_type for node in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert out.stat().st_size < path.stat().st_size / 2
    fp32, int8 = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (path, out))
    p32, p8 = (s.run(None, {"input": faces[:8]})[0] for s in (fp32, int8))
    assert p8.shape == (8, 7) and np.allclose(p8.sum(1), 1, atol=1e-4)
    assert np.abs(p32 - p8).max() < 0.1


def test_an_averaged_recipe_scores_its_members_averaged_as_the_exported_model_averages_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training import ensemble_trials
    from training.models import Averaged
    from training.presets import TrainConfig

    params = PreprocessParams(input_size=32)
    config = TrainConfig(arch="basecnn", init="none", input_size=32).to_dict()
    torch.manual_seed(0)
    nets = {}
    for member in ("a", "b"):
        run = tmp_path / member / "random" / "seed0"
        run.mkdir(parents=True)
        nets[member] = build_model("basecnn", "none", 7, 32).eval()
        torch.save(nets[member].state_dict(), run / "model.pt")
        record = {"config": config, "preprocess": params.to_dict(), "split": "random", "done": True}
        (run / "metrics.json").write_text(json.dumps({**record, "history": [{"test_acc": 0.5}]}))
    train, test = tiny_split(9, 32, 0), tiny_split(7, 32, 1)
    test.crops[:, :, :16] = 0  # faces that are not their own mirror images
    monkeypatch.setattr(ensemble_trials, "RUNS_DIR", tmp_path)
    monkeypatch.setattr(ensemble_trials, "sfew_faces", lambda root, config, split, fold=0: (train, test))
    monkeypatch.setitem(ensemble_trials.ENSEMBLES, "pair", (("a", "b"), True))
    monkeypatch.setitem(ensemble_trials.ENSEMBLES, "missing", (("a", "c"), False))

    (record,) = ensemble_trials.run_ensemble_trials(tmp_path, "pair", "random", [0])
    with torch.no_grad():
        expected = Averaged([nets["a"], nets["b"]], mirror=True)(torch.from_numpy(normalize(test.crops, params)))
    assert record["test_pred"] == expected.argmax(1).tolist()
    assert record["test_acc_stable"] == float((expected.argmax(1).numpy() == test.labels).mean())
    assert json.loads((tmp_path / "pair" / "random" / "seed0" / "metrics.json").read_text())["done"]
    # The comparison's per-seed figure for the same set is the same number.
    views = [[ensemble_trials.view_logits(nets[m], test, params) for m in ("a", "b")]]
    assert ensemble_trials.subset_accuracies(views, [test.labels], (0, 1), True) == [record["test_acc_stable"]]
    with pytest.raises(FileNotFoundError, match=r"train it first.*--preset c --split random --seeds 0"):
        ensemble_trials.run_ensemble_trials(tmp_path, "missing", "random", [0])
    # Members framed differently would be scored on faces cut for the first one only.
    record_b = tmp_path / "b" / "random" / "seed0" / "metrics.json"
    other = json.loads(record_b.read_text())
    other["preprocess"]["margin_cap"] = 0.25
    record_b.write_text(json.dumps(other))
    monkeypatch.setitem(ensemble_trials.ENSEMBLES, "pair2", (("a", "b"), False))
    with pytest.raises(ValueError, match=r"framed alike|share their preprocessing"):
        ensemble_trials.run_ensemble_trials(tmp_path, "pair2", "random", [0])


def test_cross_validation_pools_each_folds_trial_on_its_own_fold_and_ranks_by_the_pooled_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training import ensemble_trials, ship
    from training.presets import TrainConfig

    params = PreprocessParams(input_size=32)
    config = TrainConfig(arch="basecnn", init="none", input_size=32).to_dict()
    folds = {0: tiny_split(7, 32, 10), 1: tiny_split(14, 32, 11)}  # folds of different sizes
    torch.manual_seed(0)
    nets = {}
    for member in ("a", "b"):
        for fold in folds:
            run = tmp_path / member / "cv" / f"seed{fold}"
            run.mkdir(parents=True)
            nets[member, fold] = build_model("basecnn", "none", 7, 32).eval()
            with torch.no_grad():  # weights far from init's, so that each network answers differently per face
                for weights in nets[member, fold].parameters():
                    weights.normal_(0, 0.3)
            torch.save(nets[member, fold].state_dict(), run / "model.pt")
            record = {"config": config, "preprocess": params.to_dict(), "split": "cv", "seed": fold, "done": True}
            (run / "metrics.json").write_text(json.dumps(record))
    cut = []
    monkeypatch.setattr(ensemble_trials, "RUNS_DIR", tmp_path)
    monkeypatch.setattr(ship, "sfew_faces", lambda root, config, split, fold=0: (None, folds[fold]))
    monkeypatch.setattr(
        ensemble_trials, "sfew_faces", lambda root, config, split, fold=0: cut.append(fold) or (None, folds[fold])
    )
    monkeypatch.setattr(ensemble_trials, "onnx_ms_per_face", lambda model, params: 1.0)
    monkeypatch.setattr(ship, "FOLDS", len(folds))

    rows = ensemble_trials.compare_ensembles(tmp_path, ["a", "b"], "cv", [0, 1], tmp_path / "cv.md")
    assert cut == [0, 1]  # each fold's own faces, each cut once

    def accuracy(members: tuple[str, ...], fold: int, mirror: bool) -> float:
        views = [ship.view_logits(nets[m, fold], folds[fold], params) for m in members]
        return ship.variant_accuracy(views, folds[fold].labels, tuple(range(len(members))), mirror)

    for row in rows:
        per_fold = [accuracy(tuple(row["recipes"]), fold, row["mirror"]) for fold in folds]
        assert row["per_seed"] == [round(100 * a, 1) for a in per_fold]
        assert row["pooled"] == round(100 * (7 * per_fold[0] + 14 * per_fold[1]) / 21, 1)
    report = (tmp_path / "cv.md").read_text()
    best = next(r for r in rows if r["pooled"] == max(r["pooled"] for r in rows))  # equal cost: the first
    chosen = next(line for line in report.splitlines() if "**yes**" in line)
    names = " + ".join(f"`{n}`" for n in best["recipes"])
    assert chosen.startswith(f"| {names} | {'yes' if best['mirror'] else 'no'} ")
    assert "(21 pooled" in report

    # The shipped model's variants read the same folds: each network's view is fold k's trial on fold k.
    stage = tmp_path / "stage.pt"
    torch.save(nets["a", 0].state_dict(), stage)
    stage.with_suffix(".json").write_text(json.dumps({"config": config, "preprocess": params.to_dict()}))
    views, labels, words = ship.validation_views([tmp_path / "b" / "cv", stage], tmp_path, params)
    assert np.array_equal(labels, np.concatenate([folds[0].labels, folds[1].labels]))
    expected_b = np.concatenate([ship.view_logits(nets["b", k], folds[k], params) for k in folds], axis=1)
    expected_stage = np.concatenate([ship.view_logits(nets["a", 0], folds[k], params) for k in folds], axis=1)
    assert np.allclose(views[0], expected_b, atol=1e-5) and np.allclose(views[1], expected_stage, atol=1e-5)
    assert "21 SFEW faces" in words
    val = tmp_path / "a" / "val" / "seed0"
    val.mkdir(parents=True)
    for name in ("model.pt", "metrics.json"):
        (val / name).write_bytes((tmp_path / "a" / "cv" / "seed0" / name).read_bytes())
    with pytest.raises(ValueError, match="all val trials or all cv folders"):
        ship.validation_views([tmp_path / "b" / "cv", val], tmp_path, params)
