"""The HTTP Submitter on its own: streaming uploads and reading the CyberTipline's answers."""

import io

import pytest

from moderation.escalations import submitter
from tests.moderation import cybertip_server


class CountingStream(io.BytesIO):
    """Remembers the largest read, to show the file is streamed in chunks, never read whole."""

    largest = 0

    def read(self, size=-1):
        data = super().read(size)
        self.largest = max(self.largest, len(data))
        return data


def test_an_upload_body_is_streamed_in_chunks():
    data = b"x" * (5 * submitter.CHUNK_BYTES + 17)
    stream = CountingStream(data)
    content_type, length, chunks = submitter._multipart(7, "a.png", stream, len(data))
    body = b"".join(chunks)
    assert len(body) == length
    assert stream.largest == submitter.CHUNK_BYTES
    parts = cybertip_server._multipart(content_type, body)
    assert parts["id"] == ("", b"7") and parts["file"] == ("a.png", data)


def test_a_file_shorter_than_announced_is_not_sent():
    _, _, chunks = submitter._multipart(7, "a.png", io.BytesIO(b"abc"), 10)
    with pytest.raises(OSError, match="expected 10 bytes, read 3"):
        b"".join(chunks)


@pytest.fixture
def fake():
    server = cybertip_server.FakeCyberTipline(slow_seconds=2)
    httpd = cybertip_server.start(server)
    yield (
        server,
        submitter.HttpSubmitter(
            base_url=server.url,
            username=cybertip_server.USERNAME,
            password=cybertip_server.PASSWORD,
            timeout=1,
        ),
    )
    httpd.shutdown()
    httpd.server_close()


def test_a_non_zero_response_code_is_a_refusal_with_the_authoritys_words(fake):
    _, client = fake
    with pytest.raises(submitter.Refused) as refused:
        client.open_report(b"<report/>")
    assert "code 4100" in refused.value.message and "Report XML is invalid" in refused.value.message
    assert refused.value.http_status == 200


@pytest.mark.parametrize("behaviour, status", [("500", 500), ("503", 503), ("slow", None)])
def test_server_errors_and_timeouts_are_unavailable(fake, behaviour, status):
    server, client = fake
    server.script["finish"] = [behaviour]
    with pytest.raises(submitter.Unavailable) as unavailable:
        client.finish(1)
    assert unavailable.value.http_status == status


def test_a_finish_answer_lists_the_files(fake):
    server, client = fake
    server.reports[5] = cybertip_server.FakeReport(report_xml=b"", files={"f1": {}, "f2": {}})
    reply = client.finish(5)
    assert reply.report_id == 5 and reply.file_ids == ["f1", "f2"]
    assert server.reports[5].finished


@pytest.mark.parametrize("raw", ["-5", "0", "abc", str(2**63)])
def test_an_unusable_report_id_is_a_refusal_not_a_retry(raw):
    # A retry would open yet another report at the authority.
    answer = (
        f"<reportResponse><responseCode>0</responseCode><responseDescription>ok"
        f"</responseDescription><reportId>{raw}</reportId></reportResponse>"
    ).encode()
    with pytest.raises(submitter.Refused, match="unusable reportId"):
        submitter._reply(200, answer, 5)
