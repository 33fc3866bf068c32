DROP TABLE checkin_alerts;
DROP TABLE checkin_photos;
DROP TABLE checkins;
