"""The end-to-end path a newcomer takes: create, upload, download, delete."""
import hashlib


def test_create_upload_download_delete(client):
    image = client.create(name='smoke', disk_format='raw',
                          container_format='bare')
    assert image['status'] == 'queued'
    data = b'glance' * 1000
    assert client.upload(image['id'], data).status_code == 204
    shown = client.get('/v2/images/%s' % image['id']).json()
    assert shown['status'] == 'active'
    assert shown['size'] == len(data)
    assert shown['checksum'] == hashlib.md5(data).hexdigest()
    assert shown['os_hash_algo'] == 'sha512'
    assert shown['os_hash_value'] == hashlib.sha512(data).hexdigest()
    r = client.get('/v2/images/%s/file' % image['id'])
    assert r.status_code == 200 and r.content == data
    assert r.headers['Content-MD5'] == shown['checksum']
    assert client.delete('/v2/images/%s' % image['id']).status_code == 204
    assert client.get('/v2/images/%s' % image['id']).status_code == 404
