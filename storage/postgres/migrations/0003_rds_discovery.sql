CREATE TABLE "rds_discovery_listings" (
	"discovery" text NOT NULL,
	"region" text NOT NULL,
	"listed_at" bigint,
	"instances" text,
	"problems" text NOT NULL,
	"offered" text NOT NULL,
	"retained" text NOT NULL,
	CONSTRAINT "rds_discovery_listings_discovery_region_pk" PRIMARY KEY("discovery","region")
);
