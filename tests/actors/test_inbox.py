"""The engine queue's commands: many in one message reach the Directory whole and in order."""

from __future__ import annotations

import pytest

from actors import inbox
from zapx.engine.messages import BatchReport, CampaignChanged, to_dict


class Directory:
    def __init__(self):
        self.got = []

    def handle(self, command):
        self.got.append(("handle", command))
        return self

    def handle_all(self, commands):
        self.got.append(("handle_all", commands))
        return self

    def get(self, timeout=None):
        assert timeout == inbox.ASK_TIMEOUT_S
        return None


@pytest.fixture
def bound():
    directory = Directory()
    inbox.bind(directory)
    yield directory
    inbox.bind(None)


def report(batch_id: int) -> BatchReport:
    return BatchReport(company_id=1, campaign_id=2, whatsapp_id=3, batch_id=batch_id, generation=0)


def test_many_commands_go_in_one_message_and_one_alone(monkeypatch):
    sent = []
    monkeypatch.setattr(inbox.engine_commands, "send", lambda *a: sent.append(("many", a)))
    monkeypatch.setattr(inbox.engine_command, "send", lambda *a: sent.append(("one", a)))
    inbox.send_commands([report(1), report(2), report(3)])
    inbox.send_commands([report(4)])
    inbox.send_commands([])
    assert sent == [
        ("many", ([to_dict(report(1)), to_dict(report(2)), to_dict(report(3))],)),
        ("one", (to_dict(report(4)),)),
    ]


def test_a_message_of_many_is_handed_to_the_directory_whole_in_order(bound):
    commands = [report(1), CampaignChanged(1, 2), report(2)]
    inbox.engine_commands.fn([to_dict(c) for c in commands])
    assert bound.got == [("handle_all", commands)]


def test_a_message_of_many_with_one_that_is_not_a_command_hands_over_none(bound):
    with pytest.raises(ValueError):
        inbox.engine_commands.fn([to_dict(report(1)), {"kind": "nonsense"}])
    assert bound.got == []
