"""The course documents are named by their titles wherever a student reads: every lesson's rendered
text, the architectures' sources (`workbench list architectures --json`), the command's help, and
the home page's Sources section, which lists each document and links the lessons that reproduce it."""

import argparse
import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import APPTEST_TIMEOUT, no_errors
from workbench_plugins.lessons import BUILT_IN
from workbench import sources
from workbench.cli import build_parser, main
from workbench.registry import get_registry

FILE_NUMBER = re.compile(r"seed[ _-]?00\d", re.IGNORECASE)  # "seed 001", "Seed 004's", "seed001"
APP = str(Path(__file__).resolve().parent.parent / "workbench" / "app.py")
# What the five documents are called, as the course names them (see the documents themselves).
TITLES = {"Convolutional Neural Networks (CNN)", "CNNs part II",
          "Applying Deep Learning Techniques and Understand the CNN with Grad-CAM Visualization",
          "Convolution Neural Network", "cats vs dogs, CIFAR-10"}


def rendered_text(at) -> str:
    """Every element and block the run drew (labels, options, help, captions, chart specs), as text."""
    return "\n".join(str(node.proto) for node in at._tree if getattr(node, "proto", None) is not None)


@pytest.mark.parametrize("lesson", [name for name, *_ in BUILT_IN])
def test_no_lesson_calls_a_document_by_its_file_number(lesson_app, lesson):
    at = lesson_app(lesson)
    assert no_errors(at) == []
    text = rendered_text(at)
    assert len(text) > 500  # the page really rendered
    assert not FILE_NUMBER.findall(text), FILE_NUMBER.findall(text)


@pytest.mark.parametrize("kind", ["architectures", "datasets", "explainers", "lessons"])
def test_no_listing_names_a_file_number(capsys, kind):
    assert main(["list", kind, "--json"]) == 0
    out = capsys.readouterr().out
    assert len(json.loads(out)) > 0 and not FILE_NUMBER.search(out), FILE_NUMBER.findall(out)


def test_architecture_sources_are_titles_in_the_listing(capsys):
    assert main(["list", "architectures", "--json"]) == 0
    out = capsys.readouterr().out
    assert not FILE_NUMBER.search(out)
    rows = {row["name"]: row for row in json.loads(out)}
    assert "Convolutional Neural Networks (CNN)" in rows["mnist-cnn"]["source"]
    assert "Convolution Neural Network" in rows["architecture-1"]["source"]
    assert "Grad-CAM Visualization" in rows["vgg16-gap"]["source"]


def every_help(parser: argparse.ArgumentParser):
    yield parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from every_help(sub)


def test_command_help_names_no_file_number():
    helps = list(every_help(build_parser()))
    assert len(helps) >= 9  # the command, its subcommands and bench's own
    assert any("Convolutional Neural Networks (CNN)" in h for h in helps)  # train --augment slides
    for text in helps:
        assert not FILE_NUMBER.search(text), text


# The architecture files made from the course documents, by the document each cites first.
COURSE_ARCHITECTURES = {
    "mnist-cnn": "cnn-slides", "cats-vs-dogs-cnn": "cnn-slides", "vgg16-cats-dogs": "cnn-slides", "lenet-5": "cnn-slides",
    "cnn1": "cnns-part-2", "cnn2": "cnns-part-2", "alexnet": "gradcam-project", "vgg16": "gradcam-project",
    "vgg16-gap": "gradcam-project", "architecture-1": "cs671-report", "architecture-2": "cs671-report",
    "architecture-3": "cs671-report", "vgg19": "cs671-report", "naive-cnn-cats-dogs": "cs577-report",
    "naive-cnn-cifar10": "cs577-report", "inception-cifar10": "cs577-report", "residual-cifar10": "cs577-report",
}


def test_every_course_architecture_cites_a_known_document():
    registered = get_registry().architectures()
    for name, arch in registered.items():
        assert not FILE_NUMBER.search(arch.source) and not FILE_NUMBER.search(arch.description), name
    for name, key in COURSE_ARCHITECTURES.items():
        source = registered[name].source
        assert sources.keys_in(source)[0] == key, (name, source)
        assert sources.SOURCES[key].title in sources.cite(source) and ": " in source, name


def test_cite_writes_titles_and_leaves_other_text():
    cited = sources.cite("cnn-slides: 'Create First ConvNet'; cs671-report: Table 3")
    assert cited == ("lecture slides \u201cConvolutional Neural Networks (CNN)\u201d: 'Create First ConvNet'; "
                     "CS671 assignment report \u201cConvolution Neural Network\u201d: Table 3")
    assert sources.cite("torchvision.models (ImageNet)") == "torchvision.models (ImageNet)"
    assert sources.keys_in("gradcam-project: a; cnns-part-2: b") == ["gradcam-project", "cnns-part-2"]
    assert {s.title for s in sources.SOURCES.values()} == TITLES
    with pytest.raises(KeyError, match="known: cnn-slides"):
        sources.source("seed-001")


def test_the_documents_point_at_lessons_that_exist():
    lessons = get_registry().lessons()
    for doc in sources.SOURCES.values():
        assert doc.lessons, doc.key
        assert {name for name, _ in doc.lessons} <= set(lessons), doc.key
    # each lesson after the home page reproduces something of at least one document
    assert all(sources.for_lesson(name) for name in lessons if name != "home")


def test_home_lists_the_sources_with_links_to_their_lessons():
    at = AppTest.from_file(APP, default_timeout=APPTEST_TIMEOUT).run()
    assert no_errors(at) == []
    assert "Sources" in [s.value for s in at.subheader]
    text = "\n".join(m.value for m in at.markdown)
    for doc in sources.SOURCES.values():
        assert f"**{doc.title}** · *{doc.kind}*" in text
        for _, what in doc.lessons:
            assert what in text
    links = [link.proto for link in at.get("page_link")]
    titles = {lesson.name: lesson.title for lesson in get_registry().lessons().values()}
    wanted = [(titles[name], name) for doc in sources.SOURCES.values() for name, _ in doc.lessons]
    got = [(link.label, link.page.strip("/")) for link in links if link.label != "Open"]
    assert got == wanted  # one link per (document, lesson), in the documents' order, to that lesson's page
